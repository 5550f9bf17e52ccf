/**
 * A RingCX call that did not succeed. It carries what RingCX said (status, `errorCode`,
 * `generalMessage`, `requestUri`) and whether trying again can help. Messages never contain tokens
 * or request bodies, so the error can be logged and written into reports as it is.
 */
/** Connection failures that happen before a request could reach RingCX. */
const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * `not-sent`: this attempt never left this process; the invocation's deadline came while it waited
 * for its turn in the request budget. Worth another try (by a later delivery), and not ambiguous
 * in itself, though an earlier attempt of the same call may have acted (earlierAttemptMayHaveActed).
 */
export type RingCxFailureKind = 'http' | 'timeout' | 'connection' | 'not-sent';

export class RingCxError extends Error {
  override readonly name = 'RingCxError';
  readonly status: number | undefined;
  readonly errorCode: string | undefined;
  readonly generalMessage: string | undefined;
  readonly requestUri: string | undefined;
  readonly kind: RingCxFailureKind;
  readonly method: string;
  readonly path: string;
  /** How many HTTP attempts were made before giving up (1 when the error was final at once). */
  attempts: number;
  /**
   * An earlier attempt of the same call may have been carried out (its answer was lost), whatever
   * this last attempt's own failure says: a repeated removal answered 429 does not undo the first.
   */
  earlierAttemptMayHaveActed = false;

  constructor(init: {
    kind: RingCxFailureKind;
    method: string;
    path: string;
    status?: number | undefined;
    errorCode?: string | undefined;
    generalMessage?: string | undefined;
    requestUri?: string | undefined;
    attempts?: number;
    cause?: unknown;
  }) {
    const what =
      init.kind === 'http'
        ? `HTTP ${init.status}${init.errorCode ? ` ${init.errorCode}` : ''}${init.generalMessage ? `: ${init.generalMessage}` : ''}`
        : init.kind === 'timeout'
          ? 'timed out'
          : init.kind === 'not-sent'
            ? 'not sent: the invocation reached its deadline while waiting for a turn in the request budget'
            : 'connection failed';
    super(`RingCX ${init.method} ${init.path} ${what}`, { cause: init.cause });
    this.kind = init.kind;
    this.method = init.method;
    this.path = init.path;
    this.status = init.status;
    this.errorCode = init.errorCode;
    this.generalMessage = init.generalMessage;
    this.requestUri = init.requestUri;
    this.attempts = init.attempts ?? 1;
  }

  /**
   * 429, 5xx, timeouts and dropped connections are worth another try; 4xx answers describe the
   * request itself (invalid number, no permission, unknown target, conflict) and would repeat.
   */
  get retryable(): boolean {
    if (this.kind !== 'http') return true;
    const status = this.status ?? 0;
    return status === 429 || status >= 500;
  }

  /**
   * The request may have been carried out although no success came back: a 5xx, a timeout, or a
   * connection dropped after the request went out. A 429 and a refused connection are not: RingCX
   * never acted on them, but an earlier attempt of the same call may have. After an ambiguous
   * failure of a write, the caller must read the current state before it decides what happened.
   */
  get ambiguous(): boolean {
    if (this.earlierAttemptMayHaveActed || this.kind === 'timeout') return true;
    if (this.kind === 'connection') return !NEVER_SENT_CODES.has((this.cause as { code?: string } | undefined)?.code ?? '');
    return this.kind === 'http' && (this.status ?? 0) >= 500;
  }

  get isExpiredToken(): boolean {
    return this.status === 401 && /\bexpired\b/i.test(this.generalMessage ?? '');
  }

  /** A short, stable description for reports: status, code and message. */
  get summary(): string {
    if (this.kind !== 'http') return this.message.replace(/^RingCX /, '');
    return [this.status, this.errorCode, this.generalMessage].filter(Boolean).join(' ');
  }
}

export function isRingCxError(error: unknown): error is RingCxError {
  return error instanceof RingCxError;
}

/** The credentials in the secret are unusable (bad shape, rejected by RingCentral): never retried. */
export class RingCxAuthError extends Error {
  override readonly name = 'RingCxAuthError';
}

/** About the request's length, not one of its fields: "too many records", "array too large", "payload too large". */
const TOO_LARGE_MESSAGE = /\b(?:too many|too large|too long|exceeds?)\b[^.]*\b(?:records|items|entries|elements|array|request|payload)\b|\b(?:records|items|entries|elements|array|request|payload)\b[^.]*\btoo (?:many|large|long)\b|too[._]large/i;
/** "at most 500 records", "maximum of 500 items": the cap, when the answer names it. */
const NAMED_LIMIT = /\b(?:at most|maximum(?: of)?|up to|limit(?: is| of)?) (\d+) (?:records|items|entries|elements)\b/i;

/**
 * RingCX refused an array because it holds too many items. RingCX documents no cap and no error
 * for it, so two answers count: a 413, and a 400 whose message says the request is too large or
 * names the most it takes. Arrays are atomic, so nothing of a refused array was stored and its
 * halves may be sent. `limit` is the size the message names, when it names one.
 */
export class RingCxArrayTooLargeError extends RingCxError {
  readonly limit: number | undefined;
  readonly size: number;

  constructor(error: RingCxError, size: number) {
    super({
      kind: error.kind,
      method: error.method,
      path: error.path,
      status: error.status,
      errorCode: error.errorCode,
      generalMessage: error.generalMessage,
      requestUri: error.requestUri,
      attempts: error.attempts,
      cause: error.cause,
    });
    this.size = size;
    const named = NAMED_LIMIT.exec(error.generalMessage ?? '');
    const limit = named ? Number(named[1]) : undefined;
    this.limit = limit !== undefined && limit >= 1 && limit < size ? limit : undefined;
  }
}

/** The error as a RingCxArrayTooLargeError when it refused an array of `size` items for its length; otherwise undefined. */
export function arrayTooLarge(error: unknown, size: number): RingCxArrayTooLargeError | undefined {
  if (error instanceof RingCxArrayTooLargeError) return error;
  if (!isRingCxError(error) || error.kind !== 'http') return undefined;
  const tooLarge = error.status === 413 || (error.status === 400 && TOO_LARGE_MESSAGE.test(`${error.errorCode ?? ''} ${error.generalMessage ?? ''}`));
  return tooLarge ? new RingCxArrayTooLargeError(error, size) : undefined;
}
