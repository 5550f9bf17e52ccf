import { z } from 'zod';

/**
 * Where a number should route. `trackingGroup` numbers live as tracking numbers inside a group;
 * the other three take RingCX's array assignment bodies.
 */
export const TargetTypeSchema = z.enum(['gate', 'visualIvr', 'cloudRouteProfile', 'trackingGroup']);
export type TargetType = z.infer<typeof TargetTypeSchema>;

export const TargetSchema = z.object({ type: TargetTypeSchema, id: z.number().int().positive() });
export type Target = z.infer<typeof TargetSchema>;

/** How people name each target type in files, events, reports and answers. */
export const TARGET_TYPE_NAMES: Record<TargetType, string> = {
  gate: 'queue',
  visualIvr: 'visual_ivr',
  cloudRouteProfile: 'cloud_route_profile',
  trackingGroup: 'tracking_group',
};

/**
 * Every spelling of a target type that a CSV cell or an event may use, after `normalise` below.
 * The one table for both inputs: a name a file accepts is a name a reassignment event accepts.
 */
const TARGET_TYPE_ALIASES: Record<string, TargetType> = {
  queue: 'gate',
  gate: 'gate',
  visualivr: 'visualIvr',
  ivr: 'visualIvr',
  cloudrouteprofile: 'cloudRouteProfile',
  trackinggroup: 'trackingGroup',
  tracgroup: 'trackingGroup',
};

/** Case, spaces, underscores and hyphens do not matter: "Visual IVR", "visual_ivr" and "visualIvr" are one name. */
const normalise = (name: string) => name.toLowerCase().replace(/[\s_-]/g, '');

/** The target type a person's name for it stands for; undefined when it names none. */
export function targetTypeNamed(name: string): TargetType | undefined {
  return TARGET_TYPE_ALIASES[normalise(name)];
}

/** For messages that refuse a name: the names to use instead. */
export const TARGET_TYPE_CHOICES = Object.values(TARGET_TYPE_NAMES).join(', ');
