import { z } from 'zod';
import { TargetSchema } from './targets';

/**
 * The messages on the three queues: the parser (and the sweeper's re-parse) sends row messages to
 * the work queue or the bulk queue by their cost class (`rowCostClass`), the intake sends
 * reassignment messages to the priority queue, and the worker reads all three. A message written
 * by one deployment may be read by the next, so fields are added as optional and `v` changes only
 * with a format a reader of the old one cannot take.
 */

export const OnConflictSchema = z.enum(['fail', 'skip', 'reassign']);
export type OnConflict = z.infer<typeof OnConflictSchema>;

/**
 * The normalised desired state of one number, as the parser sends it and the planner reads it.
 * Optional text fields that are `undefined` mean "leave what RingCX has".
 */
export const DesiredRowSchema = z.object({
  dnis: z.string().regex(/^[1-9]\d{6,14}$/),
  e164: z.string().regex(/^\+[1-9]\d{6,14}$/),
  accountId: z.string().regex(/^[0-9]+$/),
  description: z.string().optional(),
  category: z.string(),
  notes: z.string().optional(),
  active: z.boolean(),
  target: TargetSchema.nullable(),
  assignmentDescription: z.string().optional(),
  /** Whether the assignment should be active; RingCX's `isActive`. */
  assignmentActive: z.boolean(),
  onConflict: OnConflictSchema,
  action: z.enum(['upsert', 'unassign']),
});
export type DesiredRow = z.infer<typeof DesiredRowSchema>;

export const ModeSchema = z.enum(['apply', 'plan']);
export type Mode = z.infer<typeof ModeSchema>;

/**
 * What an apply of a saved plan carries for a row: the actions a person approved and the RingCX
 * state they were planned against (see shared/domain/savedPlan.ts), and who approved them.
 */
export const PlannedMessageSchema = z.object({
  planId: z.string().min(1),
  /** The state snapshot (shared/domain/stateFingerprint.ts) the actions were planned against. */
  state: z.record(z.string(), z.unknown()),
  fingerprint: z.string(),
  actions: z.array(z.record(z.string(), z.unknown())),
  approvedBy: z.string(),
  reason: z.string(),
});
export type PlannedMessage = z.infer<typeof PlannedMessageSchema>;

/** One SQS message of the work queue: one number of one file. */
export const RowMessageSchema = z.object({
  v: z.literal(1),
  kind: z.literal('row'),
  jobId: z.string().min(1),
  line: z.number().int().positive(),
  mode: ModeSchema,
  row: DesiredRowSchema,
  /** The input row's cells, so failed.csv can give them back as they were. */
  raw: z.array(z.string()),
  /** How often a worker handed this row on unstarted because its invocation was about to end. */
  deferrals: z.number().int().nonnegative().optional(),
  /** Only for applies of a saved plan: the row is applied only if RingCX still matches the plan. */
  planned: PlannedMessageSchema.optional(),
});
export type RowMessage = z.infer<typeof RowMessageSchema>;

/**
 * Which row queue a row message goes to. `cheap` rows (plain creates, updates and assignments to
 * a voice target) share array calls: a batch of thousands costs a search, a create or two and an
 * assignment per target, so they go to the bulk queue in large batches. `costly` rows cost a call
 * or more of their own (tracking numbers, unassigns, and `on_conflict=reassign` rows, which may
 * be moves), so they go to the work queue in small batches sized to the invocation's deadline.
 * A plan run writes nothing, so every one of its rows is cheap (a large batch is one search); a
 * saved plan's row says what it does: only a planned move or removal is costly.
 */
export type RowCostClass = 'cheap' | 'costly';

const COSTLY_PLANNED_ACTIONS = new Set(['reassign', 'unassign']);

export function rowCostClass(message: Pick<RowMessage, 'row' | 'planned' | 'mode'>): RowCostClass {
  const { row, planned, mode } = message;
  if (mode === 'plan') return 'cheap';
  if (row.action === 'unassign' || row.target?.type === 'trackingGroup') return 'costly';
  if (planned) return planned.actions.some((action) => COSTLY_PLANNED_ACTIONS.has(String(action.kind))) ? 'costly' : 'cheap';
  return row.onConflict === 'reassign' ? 'costly' : 'cheap';
}

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

const NON_ASCII = /[\u007f-\uffff]/;
const NON_ASCII_ALL = /[\u007f-\uffff]/g;

/**
 * JSON with every non-ASCII character escaped. SQS admits only some Unicode ranges (and emulators
 * fewer still); escaped JSON carries any description, emoji included, through every one of them.
 */
export function encodeMessageBody(message: unknown): string {
  const json = JSON.stringify(message);
  return NON_ASCII.test(json) ? json.replace(NON_ASCII_ALL, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : json;
}
