import type { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import { describe, expect, it } from 'vitest';
import { loadFunctionConfig, WorkerConfigSchema } from '../../../shared/config';
import type { WorkerDependencies } from '../../../shared/dependencies';
import { type DeferredRow, handOnDeferred } from '../../../shared/worker/handOn';
import { RESOURCE_NAMES_FOR_TESTS } from '../../helpers/functionEnv';
import { rowMessage } from '../../helpers/rowMessages';

function runtime(failQueue?: string) {
  const sent: { queueUrl: string; bodies: { line: number; deferrals?: number }[] }[] = [];
  const rt = {
    config: loadFunctionConfig(WorkerConfigSchema, RESOURCE_NAMES_FOR_TESTS),
    aws: {
      sqs: {
        send: async (command: SendMessageBatchCommand) => {
          const { QueueUrl, Entries = [] } = command.input;
          if (QueueUrl === failQueue) throw new Error('SQS unavailable');
          sent.push({ queueUrl: QueueUrl as string, bodies: Entries.map((e) => JSON.parse(e.MessageBody as string)) });
          return { Failed: [] };
        },
      },
    },
    store: { withdrawLastAttempts: async () => undefined },
  } as unknown as WorkerDependencies;
  return { rt, sent };
}

const deferred = (line: number, row: Partial<ReturnType<typeof rowMessage>['row']> = {}): DeferredRow => {
  const message = rowMessage(line);
  return { record: { messageId: `m${line}`, body: '', receiveCount: 1 }, message: { ...message, row: { ...message.row, ...row } }, reason: 'deadline' };
};

describe('handOnDeferred', () => {
  it('hands each row back to the queue of its cost class, ten to a call, one deferral more', async () => {
    const { rt, sent } = runtime();
    const cheap = Array.from({ length: 23 }, (_, i) => deferred(10 + i));
    const costly = [deferred(2, { action: 'unassign' }), deferred(3, { target: { type: 'gate', id: 1 }, onConflict: 'reassign' })];
    const verdicts = await handOnDeferred(rt, [...cheap, ...costly]);
    expect([...verdicts.values()].every((v) => v.status === 'done')).toBe(true);
    const linesOn = (url: string) => sent.filter((s) => s.queueUrl === url).flatMap((s) => s.bodies.map((b) => b.line)).sort((a, b) => a - b);
    expect(linesOn(RESOURCE_NAMES_FOR_TESTS.BULK_QUEUE_URL)).toEqual(cheap.map((d) => d.message.line));
    expect(linesOn(RESOURCE_NAMES_FOR_TESTS.WORK_QUEUE_URL)).toEqual([2, 3]);
    expect(sent.every((s) => s.bodies.length <= 10 && s.bodies.every((b) => b.deferrals === 1))).toBe(true);
  });

  it('leaves a row whose copy could not be sent as a batch item failure, so it is never lost', async () => {
    const { rt } = runtime(RESOURCE_NAMES_FOR_TESTS.BULK_QUEUE_URL);
    const verdicts = await handOnDeferred(rt, [deferred(2), deferred(3, { action: 'unassign' })]);
    expect(verdicts.get('m2')).toEqual({ status: 'retry', reason: 'deadline' });
    expect(verdicts.get('m3')).toEqual({ status: 'done' });
  });
});
