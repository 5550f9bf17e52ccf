import { z } from 'zod';

/** Everything a test or benchmark may turn at start or at runtime (PATCH /_sim/knobs). */
export const KnobsSchema = z.object({
  /** Added to every API response. */
  latencyMs: z.number().min(0).default(0),
  latencyJitterMs: z.number().min(0).default(0),
  faults: z
    .object({
      /** Probability of a 500 or 503 after the request was admitted. */
      errorRate: z.number().min(0).max(1).default(0),
      /** Probability that the request hangs with no answer until the client gives up. */
      timeoutRate: z.number().min(0).max(1).default(0),
      /** Probability that the connection is destroyed without an answer. */
      resetRate: z.number().min(0).max(1).default(0),
      /**
       * Probability that a request is carried out but its answer is lost: half as a 500, half as a
       * dropped connection. What a client sees after a change that stood, for idempotency tests.
       */
      loseAnswerRate: z.number().min(0).max(1).default(0),
      /** Upper bound on how long a "timeout" hangs before the socket is closed. */
      hangMs: z.number().min(0).default(30_000),
      /** The next N API requests are answered 429, whatever the budget says. */
      forced429: z.number().int().min(0).default(0),
      /** Until this epoch-ms instant every API request is answered 429: a storm that lasts a while. */
      throttleUntil: z.number().min(0).default(0),
      /** Whether injected faults also hit the auth endpoints. */
      includeAuth: z.boolean().default(false),
    })
    .prefault({}),
  rateLimit: z
    .object({
      /** Requests per principal per window; RingCX documents 120 per minute. */
      budget: z.number().int().min(1).default(120),
      windowMs: z.number().int().min(1).default(60_000),
      /** Whether 429s carry Retry-After (RingCX does not document it). */
      retryAfter: z.boolean().default(true),
    })
    .prefault({}),
  /** The token exchange admits 5 calls per minute. */
  exchangeLimit: z
    .object({ budget: z.number().int().min(1).default(5), windowMs: z.number().int().min(1).default(60_000) })
    .prefault({}),
  tokenLifetimeMs: z.number().int().min(1).default(5 * 60_000),
  /** `spec`: DnisSearchResultDTO (`entries`/`totalCount`); `guide`: `records`/`totalElements`. */
  searchShape: z.enum(['spec', 'guide']).default('guide'),
  /** Whether `search` returns each record's `assignedDnis` inline. */
  inlineAssignments: z.boolean().default(true),
  /** Assigning a number that is assigned elsewhere: 409, or a silent move. */
  assignConflict: z.enum(['conflict', 'move']).default('conflict'),
  /** Whether uploadDnisPool stores the valid records or only validates them. */
  uploadMode: z.enum(['preview', 'commit']).default('commit'),
  /** Largest `maxRows` honoured by `search`. */
  maxRows: z.number().int().min(1).default(1000),
  /**
   * Longest array body the array endpoints take (pool create, update and bulk update, and the
   * voice assignment PUTs); a longer one is refused whole with 413 (arrayCap.ts). RingCX documents
   * no limit: 1,000 is an assumption, the same figure as the largest search page (`maxRows`).
   * Tracking numbers are created one object per call, so no cap applies to them.
   */
  maxArray: z.number().int().min(1).default(1000),
});

export type Knobs = z.output<typeof KnobsSchema>;
export type KnobsInput = z.input<typeof KnobsSchema>;

type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };
export type KnobsPatch = DeepPartial<Knobs>;

export function mergeKnobs(current: Knobs, patch: KnobsPatch): Knobs {
  const merged = {
    ...current,
    ...patch,
    faults: { ...current.faults, ...patch.faults },
    rateLimit: { ...current.rateLimit, ...patch.rateLimit },
    exchangeLimit: { ...current.exchangeLimit, ...patch.exchangeLimit },
  };
  return KnobsSchema.parse(merged);
}
