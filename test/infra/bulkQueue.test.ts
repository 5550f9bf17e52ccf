import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { BULK_QUEUE, deployedSizing, LAMBDA_SQS_PAYLOAD_BYTES, STAGES, type StageConfig } from '../../infra/config';
import { DnisSyncStack } from '../../infra/stack';
import { sqsEvent } from '../../local/wiring/lambdaEvents';
import { encodeMessageBody, type RowMessage, rowCostClass } from '../../shared/contracts';

/** The bulk queue: cheap rows in batches as large as one invocation's 6 MB event takes. */

type Resource = { Type: string; Properties: Record<string, any> };

function synth(config: StageConfig) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new DnisSyncStack(app, `DnisSync-${config.stage}`, { config, env: { account: '123456789012', region: 'us-east-1' } });
  return Template.fromStack(stack);
}

const logicalId = (template: Template, type: string, prefix: string) => {
  const ids = Object.keys(template.findResources(type)).filter((id) => id.startsWith(prefix));
  expect(ids).toHaveLength(1);
  return ids[0] as string;
};

/** A cheap row as the parser sends it: a number, a short description, a queue, the input cells. */
const typicalRow: RowMessage = {
  v: 1,
  kind: 'row',
  jobId: 'a1b2c3d4e5f6a7b8c9d0e1f2',
  line: 123_456,
  mode: 'apply',
  row: { dnis: '12125550123', e164: '+12125550123', accountId: '99990001', description: 'Support line 123456 - east', category: 'VOICE', active: true, target: { type: 'gate', id: 4501 }, assignmentActive: true, onConflict: 'fail', action: 'upsert' },
  raw: ['+1 212 555 0123', 'Support line 123456 - east', 'queue', '4501', '99990001'],
};

/** The row as one record of the Lambda event, with an AWS-sized receipt handle, ids and ARN. */
function recordBytes(message: RowMessage): number {
  const event = sqsEvent('arn:aws:sqs:us-east-1:123456789012:DnisSync-prod-BulkQueueABCDEF12-AbCdEfGhIjKl', [
    {
      MessageId: '059f36b4-87a3-44ab-83d2-661975830a7d',
      ReceiptHandle: `AQEB${'x'.repeat(380)}`,
      Body: encodeMessageBody(message),
      MD5OfBody: 'e4e68fb7bd0e697a0ae8f1bb342846b3',
      Attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1545082649183', SenderId: 'AROAEXAMPLEROLEID123:DnisSync-prod-Parser', ApproximateFirstReceiveTimestamp: '1545082649185' },
    },
  ]);
  return Buffer.byteLength(JSON.stringify(event.Records[0])) + 1;
}

describe('bulk queue sizing', () => {
  it('fits a full batch of typical cheap rows in one 6 MB event, costs at most 0.03 RingCX calls a new number, and is far larger than the work queue batch', () => {
    expect(rowCostClass(typicalRow)).toBe('cheap');
    const bytes = recordBytes(typicalRow);
    // What infra/config.ts states, so a change of the message shows up here.
    expect(bytes).toBeGreaterThan(1_200);
    expect(bytes).toBeLessThan(1_500);
    expect(BULK_QUEUE.batchSize * bytes).toBeLessThanOrEqual(LAMBDA_SQS_PAYLOAD_BYTES);
    // A batch of new numbers over 7 targets: a search, a create and one assignment per target.
    expect((1 + 1 + 7) / BULK_QUEUE.batchSize).toBeLessThanOrEqual(0.03);
    expect(BULK_QUEUE.batchSize).toBeLessThanOrEqual(10_000);
    // SQS: more than 10 per batch only with a window of at least 1 s.
    expect(BULK_QUEUE.batchWindowSeconds).toBeGreaterThanOrEqual(1);
    for (const config of Object.values(STAGES)) {
      expect(deployedSizing(config).queues.bulk).toEqual(BULK_QUEUE);
      expect(config.bulk.batchSize).toBeGreaterThanOrEqual(5 * config.worker.batchSize);
    }
  });
});

describe.each(Object.values(STAGES))('bulk queue in the $stage stack', (config) => {
  const template = synth(config);
  const queues = template.findResources('AWS::SQS::Queue') as Record<string, Resource>;
  const bulkId = logicalId(template, 'AWS::SQS::Queue', 'BulkQueue');
  const bulkDlqId = logicalId(template, 'AWS::SQS::Queue', 'BulkDlq');
  const workId = logicalId(template, 'AWS::SQS::Queue', 'WorkQueue');
  const bulk = queues[bulkId] as Resource;
  const work = queues[workId] as Resource;

  it('is read by the worker in batches of the configured size and window, with partial batch responses and a concurrency cap', () => {
    const mappings = Object.values(template.findResources('AWS::Lambda::EventSourceMapping')) as Resource[];
    const mapping = mappings.find((m) => JSON.stringify(m.Properties.EventSourceArn).includes(bulkId)) as Resource;
    expect(mapping.Properties).toMatchObject({
      BatchSize: config.bulk.batchSize,
      MaximumBatchingWindowInSeconds: config.bulk.batchWindowSeconds,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: config.bulk.maxConcurrency },
    });
    const workMapping = mappings.find((m) => JSON.stringify(m.Properties.EventSourceArn).includes(workId)) as Resource;
    expect(mapping.Properties.FunctionName).toEqual(workMapping.Properties.FunctionName);
  });

  it('has its own DLQ with the work queue redrive, encryption and visibility timeout', () => {
    expect(bulk.Properties.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [bulkDlqId, 'Arn'] }, maxReceiveCount: config.maxReceiveCount });
    expect(bulk.Properties.KmsMasterKeyId).toEqual(work.Properties.KmsMasterKeyId);
    expect(bulk.Properties.VisibilityTimeout).toBe(work.Properties.VisibilityTimeout);
    expect(queues[bulkDlqId]?.Properties.KmsMasterKeyId).toEqual(work.Properties.KmsMasterKeyId);
    const alarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')) as Resource[];
    const watches = (queueId: string, metric: string) => alarms.some((a) => a.Properties.MetricName === metric && JSON.stringify(a.Properties.Dimensions).includes(queueId));
    expect(watches(bulkDlqId, 'ApproximateNumberOfMessagesVisible')).toBe(true);
    expect(watches(bulkId, 'ApproximateAgeOfOldestMessage')).toBe(true);
  });

  it('may be sent to by the parser, the worker (handing rows on) and the sweeper (re-parsing), and is named in their environment', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
    const senders = policies
      .filter((p) => (p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]).some((st) => [st.Action].flat().includes('sqs:SendMessage') && JSON.stringify(st.Resource).includes(bulkId)))
      .flatMap((p) => (p.Properties.Roles as { Ref: string }[]).map((r) => r.Ref));
    expect(senders.some((role) => role.startsWith('Parser'))).toBe(true);
    expect(senders.some((role) => role.startsWith('Worker'))).toBe(true);
    expect(senders.some((role) => role.startsWith('Sweeper'))).toBe(true);
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
    for (const service of ['dnis-sync-parser', 'dnis-sync-worker', 'dnis-sync-sweeper']) {
      const fn = functions.find((f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === service) as Resource;
      expect(fn.Properties.Environment.Variables.BULK_QUEUE_URL).toEqual({ Ref: bulkId });
    }
  });
});
