/**
 * One Lambda execution environment: a process of its own that loads a function's module once
 * (init, with its own module state: limiter, token cache, connections) and then serves invocations
 * the twin sends over IPC, one at a time. The deadline comes from the parent, so
 * `getRemainingTimeInMillis()` tells the truth; the parent SIGKILLs this process if it passes.
 * FunctionPool runs it bundled, with plain node, and hands it the function's bundle: so it imports
 * only types from the sources, and shares no module (no class either) with the function.
 */
import { pathToFileURL } from 'node:url';
import type { Context } from 'aws-lambda';
import type { RingCxError } from '../../shared/ringcx/errors';
import type { FromHost, HostError, ToHost } from './protocol';

type Handler = (event: unknown, context: Context) => Promise<unknown>;

const send = (message: FromHost) => process.send?.(message);

function contextFor(message: ToHost): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: message.functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${message.functionName}`,
    memoryLimitInMB: String(message.memoryMb),
    awsRequestId: message.requestId,
    logGroupName: `/aws/lambda/${message.functionName}`,
    logStreamName: `twin/${process.pid}`,
    getRemainingTimeInMillis: () => Math.max(0, message.deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/**
 * By its fields, not `instanceof`: bundled, the function has its own copy of RingCxError's class
 * (minified), not the one this host would import.
 */
function isRingCxFailure(error: Error): error is RingCxError {
  const { kind, method, path } = error as Partial<RingCxError>;
  return (kind === 'http' || kind === 'timeout' || kind === 'connection' || kind === 'not-sent') && typeof method === 'string' && typeof path === 'string';
}

function hostError(error: unknown): HostError {
  const err = error instanceof Error ? error : new Error(String(error));
  if (!isRingCxFailure(err)) return { name: err.name, message: err.message };
  const causeCodes: string[] = [];
  for (let cause: unknown = err.cause; cause && causeCodes.length < 8; cause = (cause as { cause?: unknown }).cause) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === 'string') causeCodes.push(code);
    for (const inner of (cause as { errors?: unknown[] }).errors ?? []) {
      const innerCode = (inner as { code?: unknown }).code;
      if (typeof innerCode === 'string') causeCodes.push(innerCode);
    }
  }
  const { kind, method, path, status, errorCode, generalMessage } = err;
  return { name: err.name, message: err.message, ringcx: { kind, method, path, status, errorCode, generalMessage, causeCodes } };
}

async function main() {
  const entry = process.env.TWIN_FUNCTION_ENTRY;
  if (!entry) throw new Error('TWIN_FUNCTION_ENTRY is not set');
  let handler: Handler;
  try {
    const module = (await import(pathToFileURL(entry).href)) as { handler?: Handler };
    if (typeof module.handler !== 'function') throw new Error(`${entry} exports no handler`);
    handler = module.handler;
  } catch (error) {
    send({ type: 'init-error', message: (error as Error).message });
    process.exit(1);
  }
  process.on('message', (message: ToHost) => {
    if (message.type !== 'invoke') return;
    handler(message.event, contextFor(message)).then(
      (value) => send({ type: 'result', id: message.id, ok: true, value: value ?? null }),
      (error: unknown) => {
        send({ type: 'result', id: message.id, ok: false, error: hostError(error) });
      },
    );
  });
  // The parent going away ends the environment, as Lambda reclaims it.
  process.on('disconnect', () => process.exit(0));
  send({ type: 'ready' });
}

void main();
