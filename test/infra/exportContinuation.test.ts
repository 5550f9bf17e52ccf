import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { STAGES } from '../../infra/config';
import { DnisSyncStack } from '../../infra/stack';

/** The exports queue an export continues from when it outlasts one invocation (shared/exporter/continuation.ts). */
type Resource = { Type: string; Properties: Record<string, any> };

describe.each(Object.values(STAGES))('exports queue of stage $stage', (config) => {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const template = Template.fromStack(new DnisSyncStack(app, `DnisSync-${config.stage}`, { config, env: { account: '123456789012', region: 'us-east-1' } }));
  const resources = template.toJSON().Resources as Record<string, Resource>;
  const idOf = (type: string, prefix: string) => {
    const ids = Object.keys(resources).filter((id) => resources[id]!.Type === type && id.startsWith(prefix));
    expect(ids, `${type} ${prefix}`).toHaveLength(1);
    return ids[0]!;
  };
  const queueId = idOf('AWS::SQS::Queue', 'ExportsQueue');
  const dlqId = idOf('AWS::SQS::Queue', 'ExportsDlq');
  const exporterId = Object.keys(resources).find((id) => resources[id]!.Properties?.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === 'dnis-sync-exporter')!;

  it('has a DLQ, and a visibility timeout of at least 6x the exporter timeout', () => {
    const queue = resources[queueId]!.Properties;
    expect(queue.RedrivePolicy).toEqual({ deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] }, maxReceiveCount: config.maxReceiveCount });
    expect(queue.VisibilityTimeout).toBeGreaterThanOrEqual(6 * resources[exporterId]!.Properties.Timeout);
    expect(queue.KmsMasterKeyId).toBeDefined();
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties.MetricName === 'ApproximateNumberOfMessagesVisible');
    expect(alarms.filter((a) => JSON.stringify(a.Properties.Dimensions).includes(dlqId))).toHaveLength(1);
  });

  it('is consumed by the exporter alone, one message and one invocation at a time', () => {
    const mappings = Object.values(resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping' && JSON.stringify(r.Properties.EventSourceArn).includes(queueId));
    expect(mappings).toHaveLength(1);
    expect(mappings[0]!.Properties).toMatchObject({ FunctionName: { Ref: exporterId }, BatchSize: 1, FunctionResponseTypes: ['ReportBatchItemFailures'] });
    // 2 is the least maxConcurrency Lambda accepts; reserved concurrency 1 is what holds it to one.
    expect(mappings[0]!.Properties.ScalingConfig).toEqual({ MaximumConcurrency: 2 });
    expect(resources[exporterId]!.Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it('tells the exporter where it is and lets it send there', () => {
    expect(resources[exporterId]!.Properties.Environment.Variables.EXPORT_QUEUE_URL).toEqual({ Ref: queueId });
    const roleRef = resources[exporterId]!.Properties.Role['Fn::GetAtt'][0];
    const statements = Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((role: { Ref: string }) => role.Ref === roleRef))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const sends = statements.filter((s) => [s.Action].flat().includes('sqs:SendMessage'));
    // Besides its failed asynchronous invocations' destination.
    expect(sends.map((s) => s.Resource)).toContainEqual({ 'Fn::GetAtt': [queueId, 'Arn'] });
  });

  it('names each schedule tick, so a retried tick resumes its export instead of starting another', () => {
    const schedule = Object.values(resources).find((r) => r.Type === 'AWS::Scheduler::Schedule' && JSON.stringify(r.Properties.Target.Arn).includes(exporterId))!;
    expect(JSON.parse(schedule.Properties.Target.Input)).toEqual({ scheduledTime: '<aws.scheduler.scheduled-time>' });
  });
});
