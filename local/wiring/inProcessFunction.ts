import type { Context } from 'aws-lambda';
import { FunctionPool, type InvocationOutcome } from '../twin/functionPool';
import { functionEntry } from './functionEntry';
import { lambdaContext } from './lambdaEvents';

export type InProcessHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface InProcessFunctionOptions {
  functionName: string;
  /** The function's module, for the record; the handler given is what runs. */
  entryName: string;
  handler: InProcessHandler;
  /** The deadline the context reports. In this process it is not enforced: a handler cannot be stopped here. */
  timeoutMs: number;
  /**
   * The invocation ends as timed out after this long, whatever its context reported: a Lambda
   * killed mid-call. The handler runs on in the background, and nothing it does after that counts
   * as the invocation's answer.
   */
  killAfterMs?: number;
}

/**
 * A function run in this process, settled as the twin settles an environment's invocation: ok with
 * the handler's value, error when it throws, timeout when it is killed (`killAfterMs`). It shares
 * module state with its caller (tests mock and observe through it) and costs no fork, which keeps
 * the integration suite fast.
 *
 * It is a FunctionPool so the twin's event source mapping drives it unchanged; it never forks, so
 * `killBusy` finds nothing to kill and `size` stays 0.
 */
export class InProcessFunction extends FunctionPool {
  constructor(private readonly inProcess: InProcessFunctionOptions) {
    super({
      functionName: inProcess.functionName,
      entry: functionEntry(inProcess.entryName),
      env: {},
      timeoutMs: inProcess.timeoutMs,
    });
  }

  override async invoke(event: unknown): Promise<InvocationOutcome> {
    const { functionName, handler, timeoutMs, killAfterMs } = this.inProcess;
    const answer = Promise.resolve()
      .then(() => handler(event, lambdaContext(functionName, timeoutMs)))
      .then(
        (value): InvocationOutcome => ({ status: 'ok', value: value ?? null }),
        (error: unknown): InvocationOutcome => {
          const err = error instanceof Error ? error : new Error(String(error));
          return { status: 'error', message: `${err.name}: ${err.message}` };
        },
      );
    let timer: NodeJS.Timeout | undefined;
    const killed =
      killAfterMs === undefined
        ? []
        : [new Promise<InvocationOutcome>((resolve) => {
            timer = setTimeout(() => resolve({ status: 'timeout', message: `Task timed out after ${(killAfterMs / 1000).toFixed(2)} seconds` }), killAfterMs);
          })];
    const outcome = await Promise.race([answer, ...killed]);
    clearTimeout(timer);
    this.stats.invocations += 1;
    if (outcome.status === 'timeout') this.stats.timeouts += 1;
    if (outcome.status === 'error') this.stats.errors += 1;
    return outcome;
  }
}
