import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { logMetrics } from '@aws-lambda-powertools/metrics/middleware';
import { parser } from '@aws-lambda-powertools/parser/middleware';
import { EventBridgeSchema } from '@aws-lambda-powertools/parser/schemas/eventbridge';
import type { EventBridgeEvent } from '@aws-lambda-powertools/parser/types';
import middy from '@middy/core';
import type { Context, SQSBatchResponse } from 'aws-lambda';
import type { ObjectVersion } from '../contracts';
import { logger, metrics } from '../observability/powertools';
import { createdObjects, S3NotificationSchema } from './s3Events';
import { type BatchVerdicts, type QueueRecord, sqsBatchResponse, SqsEventSchema, toQueueRecords } from './sqsRecords';

/**
 * A function as Lambda calls it, and as local runners and tests call it: any event in, because the
 * event is validated at the edge (a schema middleware) before the function's code sees it.
 */
export type LambdaHandler<TResult> = (event: unknown, context: Context) => Promise<TResult>;

/**
 * What each handler gets besides its event: its dependencies, built once at cold start from its
 * validated config, and the invocation's Lambda context. They are passed in rather than carried on
 * the Lambda context, so a handler's type asks callers for a plain Lambda context and nothing else.
 */
type Work<TInput, TDeps, TResult> = (input: TInput, dependencies: TDeps, context: Context) => Promise<TResult>;

/**
 * Every function's cross-cutting concerns in one place: the Lambda context on each log line and
 * metrics flushed once per invocation (a cold start counted). The event is never logged: it can
 * carry phone numbers.
 */
function edges<TResult>() {
  return middy<unknown, TResult>()
    .use(injectLambdaContext(logger, { resetKeys: true }))
    .use(logMetrics(metrics, { captureColdStartMetric: true }));
}

/** Scheduled or on demand (EventBridge Scheduler, a person): the event carries nothing the function reads. */
export function scheduledHandler<TDeps, TResult>(dependencies: TDeps, work: Work<void, TDeps, TResult>): LambdaHandler<TResult> {
  return edges<TResult>().handler<unknown, TResult>((_event, context) => work(undefined, dependencies, context));
}

/** Invoked directly with a small payload the function reads itself (a schedule's input, a person's test event). */
export function directHandler<TDeps, TResult>(dependencies: TDeps, work: Work<unknown, TDeps, TResult>): LambdaHandler<TResult> {
  return edges<TResult>().handler<unknown, TResult>((event, context) => work(event, dependencies, context));
}

/** An S3 notification: the objects it says were created, keys decoded. */
export function s3ObjectsHandler<TDeps, TResult>(dependencies: TDeps, work: Work<ObjectVersion[], TDeps, TResult>): LambdaHandler<TResult> {
  return edges<TResult>()
    .use(parser({ schema: S3NotificationSchema }))
    .handler<unknown, TResult>((event, context) => work(createdObjects(event), dependencies, context));
}

/** An event a bus rule delivers; the envelope is validated here, the detail by the function (its own contract). */
export function eventBridgeHandler<TDeps, TResult>(dependencies: TDeps, work: Work<EventBridgeEvent, TDeps, TResult>): LambdaHandler<TResult> {
  return edges<TResult>()
    .use(parser({ schema: EventBridgeSchema }))
    .handler<unknown, TResult>((event, context) => work(event, dependencies, context));
}

/**
 * An SQS batch: the function gives a verdict per record, and the batch response reports the
 * records to retry (ReportBatchItemFailures), so each keeps its own receive count.
 */
export function sqsBatchHandler<TDeps>(dependencies: TDeps, work: Work<QueueRecord[], TDeps, BatchVerdicts>): LambdaHandler<SQSBatchResponse> {
  return edges<BatchVerdicts | SQSBatchResponse>()
    .use(parser({ schema: SqsEventSchema }))
    .use(sqsBatchResponse())
    .handler<unknown, SQSBatchResponse>((event, context) => work(toQueueRecords(event), dependencies, context));
}

export type { EventBridgeEvent };
