import type { Context } from 'aws-lambda';
import { RingCxError } from '../../../shared/ringcx/errors';

/** A function for the twin's own tests: reports what its environment sees, or outstays its deadline on request. */
let invocations = 0;
const bornAt = Date.now();

export const handler = async (event: { sleepMs?: number; fail?: string; failRingCx?: boolean; Records?: { messageId: string; body: string; attributes: { ApproximateReceiveCount: string } }[] }, context: Context) => {
  invocations += 1;
  if (event.Records) {
    // As an SQS consumer: body "fail" is reported as a batch item failure, "sleep" outstays the deadline.
    if (event.Records.some((r) => r.body === 'sleep')) await new Promise((resolve) => setTimeout(resolve, context.getRemainingTimeInMillis() + 5_000));
    return { batchItemFailures: event.Records.filter((r) => r.body === 'fail').map((r) => ({ itemIdentifier: r.messageId })) };
  }
  const remainingAtStart = context.getRemainingTimeInMillis();
  if (event.fail) throw new Error(event.fail);
  if (event.failRingCx) {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    throw new RingCxError({ kind: 'http', method: 'PUT', path: '/gates/4501', status: 503, errorCode: 'BUSY', generalMessage: 'try later', cause: reset });
  }
  if (event.sleepMs) await new Promise((resolve) => setTimeout(resolve, event.sleepMs));
  return {
    pid: process.pid,
    invocations,
    bornAt,
    remainingAtStart,
    remainingAtEnd: context.getRemainingTimeInMillis(),
    probeEnv: process.env.PROBE_ENV,
    // What the environment runs: the module's own file, Node's flags, and where a stack trace points.
    moduleUrl: import.meta.url,
    execArgv: process.execArgv,
    nodeOptions: process.env.NODE_OPTIONS ?? '',
    stackFrame: new Error('where').stack?.split('\n')[1] ?? '',
  };
};
