import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import type { FromHost, HostError, ToHost } from './protocol';

const HOST_SCRIPT = fileURLToPath(new URL('./host.ts', import.meta.url));
/** Lambda gives init its own 10 s; a forked Node with tsx on a busy machine needs more, and init is not what the twin measures. */
const INIT_TIMEOUT_MS = 60_000;

export type InvocationOutcome =
  | { status: 'ok'; value: unknown }
  | { status: 'error'; message: string; error?: HostError }
  /** Still running at its timeout: SIGKILLed, like Lambda stopping it. */
  | { status: 'timeout'; message: string }
  /** The environment died mid-invocation (killed from outside, or crashed). */
  | { status: 'crashed'; message: string };

export interface InvocationRecord {
  functionName: string;
  instance: number;
  pid: number | undefined;
  coldStart: boolean;
  startedAt: number;
  endedAt: number;
  outcome: InvocationOutcome;
}

export interface FunctionPoolOptions {
  functionName: string;
  /** The module whose `handler` export is the function, e.g. functions/worker/app.ts. */
  entry: string;
  /** The function's environment (the process environment is inherited beneath it). */
  env: Record<string, string>;
  timeoutMs: number;
  memoryMb?: number;
  /** Environments are replaced after this many invocations (cold starts happen). */
  maxInvocationsPerInstance?: number;
  /** Chance that an environment is retired after an invocation, as Lambda recycles them. */
  retireRate?: number;
  random?: () => number;
  onInvocationEnd?: (record: InvocationRecord) => void;
}

interface Instance {
  id: number;
  child: ChildProcess;
  ready: Promise<void>;
  invocations: number;
  busy: boolean;
  alive: boolean;
  /** Settles the invocation in flight when the process dies. */
  abort?: (outcome: InvocationOutcome) => void;
}

/**
 * Lambda execution environments for one function, as OS processes: each is forked on demand
 * (cold start), keeps its module state while warm, serves one invocation at a time with a real
 * deadline, and is SIGKILLed when an invocation outlives its timeout. Concurrency is whatever
 * callers ask for at once; the event source mappings cap it, as maxConcurrency does on AWS.
 */
export class FunctionPool {
  private readonly idle: Instance[] = [];
  private readonly all = new Set<Instance>();
  private nextId = 1;
  private nextInvocation = 1;
  private stopped = false;
  readonly stats = { coldStarts: 0, invocations: 0, timeouts: 0, crashes: 0, errors: 0 };

  constructor(private readonly options: FunctionPoolOptions) {}

  get functionName(): string {
    return this.options.functionName;
  }

  async invoke(event: unknown): Promise<InvocationOutcome> {
    if (this.stopped) return { status: 'error', message: `${this.options.functionName} is stopped` };
    let instance = this.idle.pop();
    const coldStart = !instance;
    if (!instance) {
      instance = this.spawn();
      this.stats.coldStarts += 1;
    }
    instance.busy = true;
    try {
      await instance.ready;
    } catch (error) {
      this.discard(instance);
      const outcome: InvocationOutcome = { status: 'error', message: `init failed: ${(error as Error).message}` };
      this.stats.errors += 1;
      return outcome;
    }
    const startedAt = Date.now();
    const outcome = await this.run(instance, event, startedAt + this.options.timeoutMs);
    this.stats.invocations += 1;
    if (outcome.status === 'timeout') this.stats.timeouts += 1;
    if (outcome.status === 'crashed') this.stats.crashes += 1;
    if (outcome.status === 'error') this.stats.errors += 1;
    this.options.onInvocationEnd?.({
      functionName: this.options.functionName,
      instance: instance.id,
      pid: instance.child.pid,
      coldStart,
      startedAt,
      endedAt: Date.now(),
      outcome,
    });
    instance.busy = false;
    instance.invocations += 1;
    const random = this.options.random ?? Math.random;
    const retire =
      !instance.alive ||
      outcome.status === 'timeout' ||
      outcome.status === 'crashed' ||
      this.stopped ||
      instance.invocations >= (this.options.maxInvocationsPerInstance ?? Number.POSITIVE_INFINITY) ||
      random() < (this.options.retireRate ?? 0);
    if (retire) this.discard(instance);
    else this.idle.push(instance);
    return outcome;
  }

  /** SIGKILLs one environment that is running an invocation, as a crash would; false if none is. */
  killBusy(random: () => number = Math.random): boolean {
    const busy = [...this.all].filter((i) => i.busy && i.alive);
    const victim = busy[Math.floor(random() * busy.length)];
    if (!victim) return false;
    victim.child.kill('SIGKILL');
    return true;
  }

  /** Environments alive now (busy or warm). */
  get size(): number {
    return this.all.size;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const exits = [...this.all].map((instance) => new Promise<void>((resolve) => {
      if (!instance.alive) return resolve();
      instance.child.once('exit', () => resolve());
      instance.child.kill('SIGKILL');
    }));
    this.idle.length = 0;
    await Promise.all(exits);
  }

  private run(instance: Instance, event: unknown, deadline: number): Promise<InvocationOutcome> {
    return new Promise<InvocationOutcome>((resolve) => {
      const id = this.nextInvocation++;
      let settled = false;
      const settle = (outcome: InvocationOutcome) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        instance.child.off('message', onMessage);
        instance.abort = undefined;
        resolve(outcome);
      };
      const onMessage = (message: FromHost) => {
        if (message.type !== 'result' || message.id !== id) return;
        settle(message.ok ? { status: 'ok', value: message.value } : { status: 'error', message: `${message.error.name}: ${message.error.message}`, error: message.error });
      };
      const seconds = (this.options.timeoutMs / 1000).toFixed(2);
      const timer = setTimeout(() => {
        // No cleanup hook and no grace: whatever the handler was doing stops here.
        instance.child.kill('SIGKILL');
        settle({ status: 'timeout', message: `Task timed out after ${seconds} seconds` });
      }, Math.max(0, deadline - Date.now()));
      instance.abort = (outcome) => settle(outcome);
      instance.child.on('message', onMessage);
      const invoke: ToHost = {
        type: 'invoke',
        id,
        event,
        deadline,
        functionName: this.options.functionName,
        requestId: randomUUID(),
        memoryMb: this.options.memoryMb ?? 1024,
      };
      instance.child.send(invoke, (error) => {
        if (error) settle({ status: 'crashed', message: `could not reach the environment: ${error.message}` });
      });
    });
  }

  private spawn(): Instance {
    const child = fork(HOST_SCRIPT, [], {
      execArgv: ['--import', 'tsx'],
      env: { ...process.env, ...this.options.env, TWIN_FUNCTION_ENTRY: this.options.entry },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    // The environment's logs go where this process's go (CloudWatch's stand-in), so the suite's
    // log scan sees them too.
    child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(chunk));
    child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
    const instance: Instance = { id: this.nextId++, child, ready: Promise.resolve(), invocations: 0, busy: false, alive: true };
    instance.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`init did not finish in ${INIT_TIMEOUT_MS} ms`));
      }, INIT_TIMEOUT_MS);
      child.on('message', (message: FromHost) => {
        if (message.type === 'ready') {
          clearTimeout(timer);
          resolve();
        } else if (message.type === 'init-error') {
          clearTimeout(timer);
          reject(new Error(message.message));
        }
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`environment exited during init (${signal ?? code})`));
      });
    });
    instance.ready.catch(() => undefined);
    child.once('exit', (code, signal) => {
      instance.alive = false;
      this.all.delete(instance);
      const at = this.idle.indexOf(instance);
      if (at >= 0) this.idle.splice(at, 1);
      instance.abort?.({ status: 'crashed', message: `environment ${instance.id} exited (${signal ?? code})` });
    });
    this.all.add(instance);
    return instance;
  }

  private discard(instance: Instance): void {
    this.all.delete(instance);
    const at = this.idle.indexOf(instance);
    if (at >= 0) this.idle.splice(at, 1);
    if (instance.alive) {
      instance.alive = false;
      instance.child.kill('SIGKILL');
    }
  }
}
