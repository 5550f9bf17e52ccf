import { z } from 'zod';
import { TARGET_TYPE_CHOICES, targetTypeNamed } from './targets';

/** The source of the events this system puts on its bus (completions, drift, answers). */
export const SYSTEM_EVENT_SOURCE = 'dnis-sync';

/**
 * Every EventBridge detail-type this system reads or writes. The bus rules (infra/) match on
 * these, and other teams' rules match on them too: renaming one is a breaking change for them.
 */
export const DETAIL_TYPES = {
  /** In: a caller asks for one number to be moved (the only event this system reads). */
  reassignmentRequested: 'DNIS Reassignment Requested',
  /** Out: the answers to a request. */
  reassigned: 'DNIS Reassigned',
  reassignmentFailed: 'DNIS Reassignment Failed',
  /** Out: a file's job finished (a saved plan's apply says so in its own words). */
  importCompleted: 'DNIS Import Completed',
  planApplied: 'DNIS Plan Applied',
  /** Out: the sweeper found a job without progress for longer than the completion bound. */
  importStalled: 'DNIS Import Stalled',
  /** Out: the export finished; with drift to act on it is "Drift Detected" instead of "Export Completed". */
  exportCompleted: 'DNIS Export Completed',
  driftDetected: 'DNIS Drift Detected',
  /** Out: the export did not cover every account; the alarm topic's rule matches it. */
  exportIncomplete: 'DNIS Export Incomplete',
} as const;
export type DetailType = (typeof DETAIL_TYPES)[keyof typeof DETAIL_TYPES];

/** `{type, id}` as callers write it: `queue`, `visual_ivr`, ... (the names files use), or the camelCase names. */
export const EventTargetSchema = z
  .object({
    type: z.string().transform((value, ctx) => {
      const type = targetTypeNamed(value);
      if (!type) {
        ctx.addIssue({ code: 'custom', message: `"${value}" is not one of ${TARGET_TYPE_CHOICES}` });
        return z.NEVER;
      }
      return type;
    }),
    id: z.number().int().positive(),
  })
  .strict();

/** The `detail` of a "DNIS Reassignment Requested" event. */
export const ReassignmentRequestedDetailSchema = z
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
export type ReassignmentRequestedDetail = z.infer<typeof ReassignmentRequestedDetailSchema>;

/**
 * The details this system sends. Consumers may rely on the fields named here; the events may
 * carry more (loose objects), which consumers must ignore.
 */
const reassignmentAnswer = {
  requestId: z.string(),
  requestedBy: z.string(),
  outcome: z.string(),
  detail: z.string(),
  /** `queue:4501`-style targets; null for unassigned. */
  from: z.string().nullable(),
  to: z.string().nullable(),
  heldSince: z.string().optional(),
};
export const ReassignedDetailSchema = z.looseObject({ ...reassignmentAnswer, dnis: z.string(), reason: z.string() });

/** From the worker with the request's outcome, or from the intake (request invalid) with only these three. */
export const ReassignmentFailedDetailSchema = z.looseObject({
  requestId: z.string(),
  /** The number as the request gave it; null when the request had none. */
  dnis: z.string().nullable(),
  reason: z.string(),
  ...z.object(reassignmentAnswer).partial().omit({ requestId: true }).shape,
  requestReason: z.string().optional(),
});

export const ImportCompletedDetailSchema = z.looseObject({
  jobId: z.string(),
  mode: z.enum(['apply', 'plan']),
  status: z.enum(['completed', 'failed']),
  source: z.looseObject({ bucket: z.string(), key: z.string() }),
  rows: z.object({ total: z.number(), accepted: z.number(), rejected: z.number() }),
  outcomes: z.record(z.string(), z.number()),
  reports: z.record(z.string(), z.string()),
});

export const ImportStalledDetailSchema = z.looseObject({
  jobId: z.string(),
  source: z.looseObject({ bucket: z.string(), key: z.string() }),
  status: z.literal('stalled'),
  outstanding: z.number(),
  lastProgressAt: z.string(),
  reason: z.string(),
});

const exportFiles = z.record(z.string(), z.string());
export const ExportCompletedDetailSchema = z.looseObject({
  exportId: z.string(),
  status: z.enum(['complete', 'incomplete']),
  numbers: z.number(),
  drift: z.record(z.string(), z.number()),
  files: exportFiles,
});
export const ExportIncompleteDetailSchema = z.looseObject({ exportId: z.string(), numbers: z.number(), pages: z.number(), files: exportFiles });

/** The detail schema of each detail-type, for tests and for consumers that validate what they receive. */
export const DETAIL_SCHEMAS: Record<DetailType, z.ZodType> = {
  [DETAIL_TYPES.reassignmentRequested]: ReassignmentRequestedDetailSchema,
  [DETAIL_TYPES.reassigned]: ReassignedDetailSchema,
  [DETAIL_TYPES.reassignmentFailed]: ReassignmentFailedDetailSchema,
  [DETAIL_TYPES.importCompleted]: ImportCompletedDetailSchema,
  [DETAIL_TYPES.planApplied]: ImportCompletedDetailSchema,
  [DETAIL_TYPES.importStalled]: ImportStalledDetailSchema,
  [DETAIL_TYPES.exportCompleted]: ExportCompletedDetailSchema,
  [DETAIL_TYPES.driftDetected]: ExportCompletedDetailSchema,
  [DETAIL_TYPES.exportIncomplete]: ExportIncompleteDetailSchema,
};
