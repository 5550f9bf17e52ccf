/** Messages between the twin (parent) and one execution environment (a forked host process). */
export type ToHost = { type: 'invoke'; id: number; event: unknown; deadline: number; functionName: string; requestId: string; memoryMb: number };

export type FromHost =
  | { type: 'ready' }
  | { type: 'init-error'; message: string }
  | { type: 'result'; id: number; ok: true; value: unknown }
  | { type: 'result'; id: number; ok: false; error: { name: string; message: string } };
