import { z } from 'zod';
import { SYSTEM_EVENT_SOURCE } from './contracts';
import { assertRegion } from './domain/phoneNumber';
import { parseMaintenanceWindow } from './domain/maintenanceWindow';

const positiveInt = z.coerce.number().int().positive();
const optionalUrl = z.string().url().optional();
/** A resource the stack creates and names: no default could name the right one. */
const resourceName = z.string().min(1);
const commaList = (value: string) => value.split(',').map((s) => s.trim()).filter(Boolean);

/*
 * Each function validates the settings it reads, at cold start: a missing or malformed value
 * stops the function before it touches a single row, with the variable named. Defaults are given
 * only where one value is right everywhere (RingCX's production hosts, the budget window, limits);
 * queue URLs, the table, the bucket, the bus and the secret have none, so a stack that forgets
 * one fails at once instead of writing to a queue named "unset".
 * test/infra/functionEnvironments.test.ts checks the stack sets every value each function requires.
 */

/** Where this process reaches AWS: in Lambda the runtime's region; locally an emulator per service. */
const awsSettings = {
  AWS_REGION: z.string().default('us-east-1'),
  AWS_ENDPOINT_URL: optionalUrl,
  AWS_ENDPOINT_URL_S3: optionalUrl,
  AWS_ENDPOINT_URL_SQS: optionalUrl,
  AWS_ENDPOINT_URL_DYNAMODB: optionalUrl,
  AWS_ENDPOINT_URL_SECRETS_MANAGER: optionalUrl,
  AWS_ENDPOINT_URL_EVENTBRIDGE: optionalUrl,
};

/** How long a job's report writer holds its lease (REPORT_LEASE_SECONDS). */
export const DEFAULT_REPORT_LEASE_SECONDS = 120;

/** The job table, the bucket and how long what they hold is kept. */
const storeSettings = {
  TABLE_NAME: resourceName,
  BUCKET_NAME: resourceName,
  /** How long job rows and outcomes are kept, in days (DynamoDB TTL). */
  JOB_RETENTION_DAYS: positiveInt.default(90),
  /** How long reassignment audit entries are kept, in days; unset = forever (no TTL on them). */
  AUDIT_RETENTION_DAYS: positiveInt.optional(),
  /** How long a saved plan (plan/ run) may be approved and applied, in hours. */
  PLAN_TTL_HOURS: positiveInt.default(24),
  /**
   * How long the writer of a job's reports holds them; a writer that died (a crash, a timeout) is
   * taken over after it. A worker's timeout; the local twin scales it like every duration.
   */
  REPORT_LEASE_SECONDS: positiveInt.default(DEFAULT_REPORT_LEASE_SECONDS),
};

/** The bus this system's events go to, and the source they carry. */
const eventSettings = {
  EVENT_BUS_NAME: resourceName,
  EVENT_SOURCE: z.string().min(1).default(SYSTEM_EVENT_SOURCE),
};

/** How long one RingCX call may take; the local twin scales the same default. */
export const DEFAULT_RINGCX_TIMEOUT_MS = 15_000;
/** The first backoff between two attempts of one RingCX call; the local twin scales the same default. */
export const DEFAULT_RINGCX_RETRY_BASE_MS = 250;

/** The RingCX client every function builds: hosts, credentials, pacing and retries. */
const ringCxSettings = {
  /** RingCX host for both the voice API and the RingCX auth endpoints. */
  RINGCX_BASE_URL: z.string().url().default('https://ringcx.ringcentral.com'),
  /** RingCentral platform host for the JWT grant. */
  RINGCENTRAL_BASE_URL: z.string().url().default('https://platform.ringcentral.com'),
  /** Secrets Manager id (name or ARN) of the RingCX credentials. */
  RINGCX_SECRET_ID: resourceName,
  /** The tenant's RingCX limit per window, shared by every caller (RINGCX_BUDGET_TABLE). */
  RINGCX_REQUESTS_PER_WINDOW: positiveInt.default(120),
  /** The window the budget applies to. 60,000 in production; time-scaled in benchmarks. */
  RINGCX_WINDOW_MS: positiveInt.default(60_000),
  /**
   * The DynamoDB table every function and instance takes RingCX budget from (infra/budgetStack.ts).
   * Unset or empty = this process keeps a budget of its own: for tests and tools that are the
   * tenant's only caller. test/infra/stack.test.ts checks that every deployed function sets it.
   */
  RINGCX_BUDGET_TABLE: z
    .string()
    .optional()
    .transform((name) => name || undefined),
  /** Share of the limit never used, for callers outside the budget and clock skew between instances. */
  RINGCX_BUDGET_HEADROOM: z.coerce.number().min(0).max(0.5).default(0.05),
  /** Length of one slice of the shared budget; unset = a sixtieth of the window (1 s in production). */
  RINGCX_BUDGET_SLICE_MS: positiveInt.optional(),
  /** The largest difference between two instances' clocks the headroom must cover; unset = one slice. */
  RINGCX_BUDGET_CLOCK_SKEW_MS: z.coerce.number().int().min(0).optional(),
  /** Share of the budget the export keeps while imports run. */
  RINGCX_EXPORT_MIN_SHARE: z.coerce.number().min(0).max(1).default(0.1),
  /** Whose calls these are when the budget is short (reassignments pick their own): see shared/ringcx/requestBudget.ts. */
  RINGCX_BUDGET_PRIORITY: z.enum(['auth', 'reassign', 'import', 'export']).default('import'),
  RINGCX_TIMEOUT_MS: positiveInt.default(DEFAULT_RINGCX_TIMEOUT_MS),
  RINGCX_MAX_ATTEMPTS: positiveInt.default(4),
  /** First backoff after a failed attempt (it doubles, with full jitter); the local twin scales it like every duration. */
  RINGCX_RETRY_BASE_MS: positiveInt.default(DEFAULT_RINGCX_RETRY_BASE_MS),
  /** `unassign-first`: DELETE then PUT (works whether or not RingCX moves on PUT); `direct`: PUT moves. */
  RINGCX_REASSIGN_MODE: z.enum(['unassign-first', 'direct']).default('unassign-first'),
  /** Largest array sent in one create, update or assign call. */
  RINGCX_MAX_ARRAY: positiveInt.default(1000),
  /** Whether this process may perform the JWT login itself (local runs) or must wait for the refresher. */
  RINGCX_SELF_LOGIN: z.enum(['true', 'false']).default('false').transform((v) => v === 'true'),
};

/** How phone numbers and accounts are read from files and requests. */
const numberSettings = {
  DEFAULT_REGION: z.string().default('US').transform((region, ctx) => {
    try {
      return assertRegion(region);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  }),
  NUMBER_VALIDATION: z.enum(['strict', 'possible']).default('strict'),
  RINGCX_DEFAULT_ACCOUNT_ID: z.string().regex(/^[0-9]+$/, 'must be a numeric RingCX sub-account id').optional(),
};

/** Receives before a transient failure is final: the redrive policy's maxReceiveCount. */
const MAX_RECEIVE_COUNT = positiveInt.default(5);
/** How long a parser holds its job; a parse still unfinished after it is taken over and re-run. The parser's timeout. */
const PARSE_LEASE_SECONDS = positiveInt.default(900);

/** What every function's dependencies (shared/dependencies.ts) are built from. */
export const CoreConfigSchema = z.object({ ...awsSettings, ...storeSettings, ...eventSettings, ...ringCxSettings });

/** S3 notification → validated rows on the work queue (costly rows) or the bulk queue (cheap rows). */
export const ParserConfigSchema = CoreConfigSchema.extend({
  ...numberSettings,
  WORK_QUEUE_URL: resourceName,
  BULK_QUEUE_URL: resourceName,
  PARSE_LEASE_SECONDS,
  /** SendMessageBatch calls the parser keeps in flight. */
  PARSER_SEND_CONCURRENCY: positiveInt.default(8),
  /** Files over this size are refused whole, before a byte is parsed. */
  MAX_FILE_BYTES: positiveInt.default(100 * 1024 * 1024),
  /** Files with more data rows than this are refused whole, before any row is sent. */
  MAX_ROWS: positiveInt.default(250_000),
});

/** Work, bulk and priority queue batches → RingCX. */
export const WorkerConfigSchema = CoreConfigSchema.extend({
  ...numberSettings,
  /** Rows handed on unstarted go back to the queue of their cost class: costly rows here... */
  WORK_QUEUE_URL: resourceName,
  /** ...and cheap rows here. */
  BULK_QUEUE_URL: resourceName,
  /** Reassignments held for the maintenance window go back here, delayed. */
  PRIORITY_QUEUE_URL: resourceName,
  MAX_RECEIVE_COUNT,
  /**
   * How often a row the worker could not start before its deadline is handed on as a fresh message
   * (at once, without a receive) before it takes the ordinary retry path (visibility timeout,
   * receive count, gave-up on the last receive).
   */
  MAX_DEFERRALS: positiveInt.default(20),
  /** JSON, e.g. {"timeZone":"America/New_York","days":["sat"],"start":"01:00","end":"05:00"}; unset = always. */
  MAINTENANCE_WINDOW: z
    .string()
    .optional()
    .transform((json, ctx) => {
      try {
        return parseMaintenanceWindow(json);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^MAINTENANCE_WINDOW: /, '') });
        return z.NEVER;
      }
    }),
});

/** A reassignment event → the priority queue, or the events DLQ with the reason. */
export const IntakeConfigSchema = CoreConfigSchema.extend({
  ...numberSettings,
  PRIORITY_QUEUE_URL: resourceName,
  /** Where invalid reassignment events are kept for a person, with the reason. */
  EVENTS_DLQ_URL: resourceName,
  /** Event sources allowed to request reassignments (the rule matches only these too). */
  EVENT_SOURCES: z.string().default('dnis-sync.requests').transform(commaList),
});

/** The scheduled export of every number and its routing. */
export const ExporterConfigSchema = CoreConfigSchema.extend({
  /** Accounts the export covers; unset = every account the credentials see (one extra call). */
  RINGCX_ACCOUNT_IDS: z
    .string()
    .optional()
    .transform((v) => (v ? commaList(v) : undefined)),
  EXPORT_PAGE_SIZE: positiveInt.default(1000),
  /** The exports queue, where an export that outlasts one invocation asks for the next; unset = it stops incomplete. */
  EXPORT_QUEUE_URL: resourceName.optional(),
  /** How long a continuation waits on the queue, so the invocation that sent it has ended (reserved concurrency 1). */
  EXPORT_CONTINUE_DELAY_SECONDS: z.coerce.number().int().min(0).max(900).default(10),
});

/** Renews the RingCX token in the secret: the core settings are all it reads. */
export const RefresherConfigSchema = CoreConfigSchema;

/** The sweeper re-parses files and re-sends answers, so it needs the parser's and the worker's settings too. */
export const SweeperConfigSchema = ParserConfigSchema.extend(WorkerConfigSchema.shape).extend({
  MAX_RECEIVE_COUNT,
  PARSE_LEASE_SECONDS,
  /** The work queue's visibility timeout: after it, a dead delivery's message is visible (or in the DLQ) again. */
  WORK_VISIBILITY_TIMEOUT_SECONDS: positiveInt.default(720),
  /** How often the sweeper runs; part of the completion bound. */
  SWEEP_INTERVAL_SECONDS: positiveInt.default(300),
});

/** Each function's schema, by the name infra/ and local/ use for it. */
export const FUNCTION_CONFIG_SCHEMAS = {
  parser: ParserConfigSchema,
  worker: WorkerConfigSchema,
  intake: IntakeConfigSchema,
  exporter: ExporterConfigSchema,
  refresher: RefresherConfigSchema,
  sweeper: SweeperConfigSchema,
} as const;

/** Every function's settings at once: for local runs and tests that play all the functions in one process. */
export const ConfigSchema = SweeperConfigSchema.extend(IntakeConfigSchema.shape).extend(ExporterConfigSchema.shape);

export type CoreConfig = z.output<typeof CoreConfigSchema>;
export type ParserConfig = z.output<typeof ParserConfigSchema>;
export type WorkerConfig = z.output<typeof WorkerConfigSchema>;
export type IntakeConfig = z.output<typeof IntakeConfigSchema>;
export type ExporterConfig = z.output<typeof ExporterConfigSchema>;
export type SweeperConfig = z.output<typeof SweeperConfigSchema>;
export type Config = z.output<typeof ConfigSchema>;

/** Validates `env` against one function's schema; the error names every variable that is wrong. */
export function loadFunctionConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined> = process.env): z.output<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return result.data;
}

/** Every function's settings together (see ConfigSchema). */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  return loadFunctionConfig(ConfigSchema, env);
}
