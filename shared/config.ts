import { z } from 'zod';
import { assertRegion } from './domain/phoneNumber';

const positiveInt = z.coerce.number().int().positive();
const optionalUrl = z.string().url().optional();

/**
 * Every setting the functions read from their environment, validated once at cold start: a missing
 * or malformed value stops the function before it touches a single row, with the variable named.
 */
export const ConfigSchema = z.object({
  /** RingCX host for both the voice API and the RingCX auth endpoints. */
  RINGCX_BASE_URL: z.string().url().default('https://ringcx.ringcentral.com'),
  /** RingCentral platform host for the JWT grant. */
  RINGCENTRAL_BASE_URL: z.string().url().default('https://platform.ringcentral.com'),
  /** Secrets Manager id (name or ARN) of the RingCX credentials. */
  RINGCX_SECRET_ID: z.string().min(1).default('dnis-sync/ringcx'),
  RINGCX_DEFAULT_ACCOUNT_ID: z.string().regex(/^[0-9]+$/, 'must be a numeric RingCX sub-account id').optional(),
  /** Requests per minute this one worker process may send; the stack sizes it as budget ÷ max concurrency. */
  RINGCX_REQUESTS_PER_WINDOW: positiveInt.default(120),
  /** The window the budget applies to. 60,000 in production; time-scaled in benchmarks. */
  RINGCX_WINDOW_MS: positiveInt.default(60_000),
  RINGCX_TIMEOUT_MS: positiveInt.default(15_000),
  RINGCX_MAX_ATTEMPTS: positiveInt.default(4),
  /** `unassign-first`: DELETE then PUT (works whether or not RingCX moves on PUT); `direct`: PUT moves. */
  RINGCX_REASSIGN_MODE: z.enum(['unassign-first', 'direct']).default('unassign-first'),
  /** Largest array sent in one create, update or assign call. */
  RINGCX_MAX_ARRAY: positiveInt.default(100),
  /** Whether this process may perform the JWT login itself (local runs) or must wait for the refresher. */
  RINGCX_SELF_LOGIN: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
  DEFAULT_REGION: z.string().default('US').transform((region, ctx) => {
    try {
      return assertRegion(region);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }),
  NUMBER_VALIDATION: z.enum(['strict', 'possible']).default('strict'),
  TABLE_NAME: z.string().min(1).default('dnis-sync'),
  BUCKET_NAME: z.string().min(1).default('dnis-sync'),
  WORK_QUEUE_URL: z.string().min(1).default('unset'),
  PRIORITY_QUEUE_URL: z.string().min(1).default('unset'),
  EVENT_BUS_NAME: z.string().min(1).default('default'),
  EVENT_SOURCE: z.string().min(1).default('dnis-sync'),
  /** Where invalid reassignment events are kept for a person, with the reason. */
  EVENTS_DLQ_URL: z.string().min(1).default('unset'),
  /** Event sources allowed to request reassignments (the rule matches only these too). */
  EVENT_SOURCES: z
    .string()
    .default('dnis-sync.requests')
    .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean)),
  /** JSON, e.g. {"timeZone":"America/New_York","days":["sat"],"start":"01:00","end":"05:00"}; unset = always. */
  MAINTENANCE_WINDOW: z.string().optional(),
  /** Accounts the export covers; unset = every account the credentials see (one extra call). */
  RINGCX_ACCOUNT_IDS: z
    .string()
    .optional()
    .transform((v) => (v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined)),
  EXPORT_PAGE_SIZE: positiveInt.default(1000),
  /** Files over this size are refused whole, before a byte is parsed. */
  MAX_FILE_BYTES: positiveInt.default(100 * 1024 * 1024),
  /** Files with more data rows than this are refused whole, before any row is sent. */
  MAX_ROWS: positiveInt.default(250_000),
  /**
   * How often a row the worker could not start before its deadline is handed on as a fresh message
   * (at once, without a receive) before it takes the ordinary retry path (visibility timeout,
   * receive count, gave-up on the last receive).
   */
  MAX_DEFERRALS: positiveInt.default(20),
  /** The redrive policy's maxReceiveCount: on that receive a transient failure is recorded as final. */
  MAX_RECEIVE_COUNT: positiveInt.default(5),
  /** The work queue's visibility timeout: after it, a dead delivery's message is visible (or in the DLQ) again. */
  WORK_VISIBILITY_TIMEOUT_SECONDS: positiveInt.default(720),
  /** How often the sweeper runs; part of the completion bound. */
  SWEEP_INTERVAL_SECONDS: positiveInt.default(300),
  /** How long a parser holds its job; a parse still unfinished after it is taken over and re-run. The parser's timeout. */
  PARSE_LEASE_SECONDS: positiveInt.default(900),
  /** SendMessageBatch calls the parser keeps in flight. */
  PARSER_SEND_CONCURRENCY: positiveInt.default(8),
  /** How long a saved plan (plan/ run) may be approved and applied, in hours. */
  PLAN_TTL_HOURS: positiveInt.default(24),
  /** How long job rows and outcomes are kept, in days (DynamoDB TTL). */
  JOB_RETENTION_DAYS: positiveInt.default(90),
  /** How long reassignment audit entries are kept, in days; unset = forever (no TTL on them). */
  AUDIT_RETENTION_DAYS: positiveInt.optional(),
  /** Only for local runs and tests: one endpoint for every AWS service, or one per service. */
  AWS_ENDPOINT_URL: optionalUrl,
  AWS_ENDPOINT_URL_S3: optionalUrl,
  AWS_ENDPOINT_URL_SQS: optionalUrl,
  AWS_ENDPOINT_URL_DYNAMODB: optionalUrl,
  AWS_ENDPOINT_URL_SECRETS_MANAGER: optionalUrl,
  AWS_ENDPOINT_URL_EVENTBRIDGE: optionalUrl,
  AWS_REGION: z.string().default('us-east-1'),
});

export type Config = z.output<typeof ConfigSchema>;

export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const result = ConfigSchema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return result.data;
}
