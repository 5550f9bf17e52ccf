import { z } from 'zod';
import { type Target, TargetSchema } from './desiredRow';

const TYPE_ALIASES: Record<string, Target['type']> = {
  queue: 'gate',
  gate: 'gate',
  visual_ivr: 'visualIvr',
  visualivr: 'visualIvr',
  cloud_route_profile: 'cloudRouteProfile',
  cloudrouteprofile: 'cloudRouteProfile',
  tracking_group: 'trackingGroup',
  trackinggroup: 'trackingGroup',
};

/** `{type, id}` as callers write it: `queue` / `visual_ivr` / ... or the camelCase names. */
export const EventTargetSchema = z
  .object({
    type: z.string().transform((value, ctx) => {
      const type = TYPE_ALIASES[value.toLowerCase().replace(/[\s-]/g, '_')] ?? TYPE_ALIASES[value.toLowerCase()];
      if (!type) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not one of queue, visual_ivr, cloud_route_profile, tracking_group` });
        return z.NEVER;
      }
      return type;
    }),
    id: z.number().int().positive(),
  })
  .strict();

/** The `detail` of a "DNIS Reassignment Requested" event. */
export const ReassignmentDetailSchema = z
  .object({
    dnis: z.string().min(1),
    target: EventTargetSchema,
    description: z.string().max(255).optional(),
    isActive: z.boolean().optional(),
    requestedBy: z.string().min(1).max(200),
    reason: z.string().min(1).max(1_000),
    /** Refuse unless the number is here now; `null` means "expected to be unassigned". */
    expectedCurrentTarget: EventTargetSchema.nullable().optional(),
  })
  .strict();
export type ReassignmentDetail = z.infer<typeof ReassignmentDetailSchema>;

/** One reassignment on the priority queue. */
export const ReassignMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal('reassign'),
  requestId: z.string().min(1),
  /** EventBridge's `source` and `account`: who put the request on the bus, as AWS vouches for it. */
  source: z.string(),
  account: z.string().optional(),
  dnis: z.string(),
  e164: z.string(),
  target: TargetSchema,
  description: z.string().optional(),
  isActive: z.boolean().optional(),
  /** As the caller asserted it; recorded with `source` and `account`, never trusted alone. */
  requestedBy: z.string(),
  reason: z.string(),
  expectedCurrentTarget: TargetSchema.nullable().optional(),
  receivedAt: z.string(),
  heldSince: z.string().optional(),
});
export type ReassignMessage = z.infer<typeof ReassignMessageSchema>;

export const REASSIGNMENT_REQUESTED = 'DNIS Reassignment Requested';
