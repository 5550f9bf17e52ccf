import { type ChildProcess, fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { bundleFunction } from './bundle';
import type { FromHost, HostError, ToHost } from './protocol';

const HOST_SOURCE = fileURLToPath(new URL('./host.ts', import.meta.url));
/** Lambda gives init its own 10 s; a forked Node on a busy machine (or through tsx) needs more, and init is not what the twin measures. */
const INIT_TIMEOUT_MS = 60_000;

/** What an environment's process runs: the host, the function's module, and Node's flags. */
interface Deployment {
  host: string;
  entry: string;
  execArgv: string[];
}

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
  /** A cold start's init: from forking the environment to its module loaded (undefined when warm). */
  initMs: number | undefined;
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
  /**
   * true (the default): environments run the function's esbuild bundle, built as the stack builds
   * it, with plain `node --enable-source-maps`, as Lambda runs it. false, or TWIN_BUNDLE=0 in the
   * environment when this is unset: they import the TypeScript entry through tsx, for debugging
   * the sources as they are (cold starts are then several times Lambda's).
   */
  bundle?: boolean;
}

interface Instance {
  id: number;
  child: ChildProcess;
  ready: Promise<void>;
  /** Forking to ready, once ready. */
  initMs?: number;
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
  /**
   * Building the bundles is the deploy, not a cold start: it starts with the pool, and the first
   * invocation waits for it before the first environment is forked, so no init and no deadline
   * includes it. A build that failed is reported by every invocation, as `deploy failed`.
   */
  private readonly deployment: Promise<Deployment>;
  private deployed: Deployment | undefined;
  /** How long the deploy took (the bundle builds, or nothing through tsx), once done. */
  deployMs: number | undefined;

  constructor(private readonly options: FunctionPoolOptions) {
    const started = performance.now();
    this.deployment = this.deploy().then((deployment) => {
      this.deployed = deployment;
      this.deployMs = performance.now() - started;
      return deployment;
    });
    this.deployment.catch(() => undefined);
  }

  /** Resolves once the function is built and environments can be forked; rejects if the build failed. */
  async whenDeployed(): Promise<void> {
    await this.deployment;
  }

  private async deploy(): Promise<Deployment> {
    const bundled = this.options.bundle ?? process.env.TWIN_BUNDLE !== '0';
    if (!bundled) return { host: HOST_SOURCE, entry: this.options.entry, execArgv: ['--import', 'tsx'] };
    const [host, entry] = await Promise.all([bundleFunction(HOST_SOURCE), bundleFunction(this.options.entry)]);
    // What CDK sets (NODE_OPTIONS) for a function bundled with a source map: stack traces name the sources.
    return { host, entry, execArgv: ['--enable-source-maps'] };
  }

  get functionName(): string {
    return this.options.functionName;
  }

  async invoke(event: unknown): Promise<InvocationOutcome> {
    if (this.stopped) return { status: 'error', message: `${this.options.functionName} is stopped` };
    let instance = this.idle.pop();
    const coldStart = !instance;
    if (!instance) {
      // Awaited only until the deploy is done, so a warm start stays as it was: no extra turn.
      let deployment = this.deployed;
      if (!deployment) {
        try {
          deployment = await this.deployment;
        } catch (error) {
          this.stats.errors += 1;
          return { status: 'error', message: `deploy failed: ${(error as Error).message}` };
        }
        if (this.stopped) return { status: 'error', message: `${this.options.functionName} is stopped` };
      }
      instance = this.spawn(deployment);
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
      initMs: coldStart ? instance.initMs : undefined,
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

  private spawn(deployment: Deployment): Instance {
    const forkedAt = performance.now();
    // execArgv replaces this process's own flags (tsx's loader among them), which fork would pass on.
    const child = fork(deployment.host, [], {
      execArgv: deployment.execArgv,
      env: { ...process.env, ...this.options.env, TWIN_FUNCTION_ENTRY: deployment.entry },
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
          instance.initMs = performance.now() - forkedAt;
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
