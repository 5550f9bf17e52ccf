/**
 * A RingCX call that did not succeed. It carries what RingCX said (status, `errorCode`,
 * `generalMessage`, `requestUri`) and whether trying again can help. Messages never contain tokens
 * or request bodies, so the error can be logged and written into reports as it is.
 */
/** Connection failures that happen before a request could reach RingCX. */
const NEVER_SENT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'ENOTFOUND', 'EAI_AGAIN']);

export type RingCxFailureKind = 'http' | 'timeout' | 'connection';

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
   * never acted on them. After an ambiguous failure of a write that is not safe to repeat, the
   * caller must read the current state before trying again.
   */
  get ambiguous(): boolean {
    if (this.kind === 'timeout') return true;
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
