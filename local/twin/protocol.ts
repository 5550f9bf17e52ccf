import type { RingCxFailureKind } from '../../shared/ringcx/errors';
/** Messages between the twin (parent) and one execution environment (a forked host process). */
export type ToHost = { type: 'invoke'; id: number; event: unknown; deadline: number; functionName: string; requestId: string; memoryMb: number };

export type FromHost =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: HostError };

/**
 * A handler's error as it crosses the process boundary. A RingCX failure keeps its fields and the
 * codes of its causes, so the parent can rebuild it and say which host failed and how.
 */
export interface HostError {
  name: string;
  message: string;
  ringcx?: { kind: RingCxFailureKind; method: string; path: string; status?: number | undefined; errorCode?: string | undefined; generalMessage?: string | undefined; causeCodes: string[] };
}
