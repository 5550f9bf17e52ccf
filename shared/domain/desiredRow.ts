import { type Outcome, type Target, TARGET_TYPE_NAMES } from '../contracts';

/**
 * The desired state of a number and what became of it are defined where they cross process
 * boundaries (shared/contracts); the domain reads them under these names.
 */
export {
  type DesiredRow,
  DesiredRowSchema,
  type Mode,
  type OnConflict,
  OUTCOMES,
  type Outcome,
  type Target,
  type TargetType,
  TargetSchema,
  TargetTypeSchema,
} from '../contracts';

const PLAN_LABELS: Partial<Record<Outcome, string>> = {
  created: 'would-create',
  updated: 'would-update',
  assigned: 'would-assign',
  reassigned: 'would-reassign',
  unassigned: 'would-unassign',
};

/** Plan mode reports what would happen, in its own words. */
export function planLabel(outcome: Outcome): string {
  return PLAN_LABELS[outcome] ?? outcome;
}

/** `queue:4501`: a target as reports, answers and the drift report write it. */
export function describeTarget(target: Target | null | undefined): string {
  if (!target) return '';
  return `${TARGET_TYPE_NAMES[target.type]}:${target.id}`;
}
