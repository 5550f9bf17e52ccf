import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { STAGES, type StageConfig } from '../../infra/config';
import { DnisSyncStack, SECRET_PLACEHOLDER, TABLE_ACTIONS } from '../../infra/stack';
import { refersTo } from './keyWriters';

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };
type Resources = Record<string, Resource>;

function synth(config: StageConfig): { resources: Resources; outputs: Record<string, any>; template: Template } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const template = Template.fromStack(new DnisSyncStack(app, `DnisSync-${config.stage}`, { config, env: { account: '123456789012', region: 'us-east-1' } }));
  const json = template.toJSON() as { Resources: Resources; Outputs: Record<string, any> };
  return { resources: json.Resources, outputs: json.Outputs, template };
}

const ofType = (resources: Resources, type: string) => Object.entries(resources).filter(([, r]) => r.Type === type);
const functionId = (resources: Resources, service: string) =>
  ofType(resources, 'AWS::Lambda::Function').find(([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME === `dnis-sync-${service}`)![0];

/** Lambda functions that AWS invokes asynchronously: S3 notifications, rule targets, schedule targets. */
function asyncInvoked(resources: Resources): Set<string> {
  const ids = new Set<string>();
  const lambdaIds = ofType(resources, 'AWS::Lambda::Function').map(([id]) => id);
  const collect = (fragment: unknown) => lambdaIds.filter((id) => refersTo(fragment, id)).forEach((id) => ids.add(id));
  for (const [, n] of ofType(resources, 'Custom::S3BucketNotifications')) collect(n.Properties.NotificationConfiguration?.LambdaFunctionConfigurations);
  for (const [, rule] of ofType(resources, 'AWS::Events::Rule')) for (const t of rule.Properties.Targets ?? []) collect(t.Arn);
  for (const [, schedule] of ofType(resources, 'AWS::Scheduler::Schedule')) collect(schedule.Properties.Target.Arn);
  return ids;
}

/** Alarms that watch a metric with the given name (and optionally a dimension value referring to a resource). */
function alarmsOn(resources: Resources, metricName: string, dimensionRef?: string) {
  return ofType(resources, 'AWS::CloudWatch::Alarm').filter(
    ([, a]) => a.Properties.MetricName === metricName && (dimensionRef === undefined || refersTo(a.Properties.Dimensions, dimensionRef)),
  );
}

function roleStatements(resources: Resources, functionLogicalId: string) {
  const roleId = resources[functionLogicalId]!.Properties.Role['Fn::GetAtt'][0];
  return ofType(resources, 'AWS::IAM::Policy')
    .filter(([, p]) => p.Properties.Roles.some((r: { Ref: string }) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown }[]);
}
const actionsOf = (statements: { Action: string | string[] }[], prefix: string) =>
  [...new Set(statements.flatMap((s) => [s.Action].flat()).filter((a) => a.startsWith(prefix)))].sort();

describe.each(Object.values(STAGES))('operating the $stage stack', (config) => {
  const { resources, outputs, template } = synth(config);

  it('gives every asynchronously invoked function an encrypted on-failure queue, alarmed when not empty, and alarms on dropped events', () => {
    const invoked = asyncInvoked(resources);
    expect([...invoked]).toEqual(expect.arrayContaining(['exporter', 'parser', 'reassignintake', 'tokenrefresher'].map((s) => functionId(resources, s))));
    const configs = ofType(resources, 'AWS::Lambda::EventInvokeConfig');
    for (const id of invoked) {
      const invokeConfig = configs.find(([, c]) => c.Properties.FunctionName.Ref === id)?.[1];
      expect(invokeConfig, `${id} has an EventInvokeConfig`).toBeDefined();
      const destination = invokeConfig!.Properties.DestinationConfig?.OnFailure?.Destination;
      const [queueId, queue] = ofType(resources, 'AWS::SQS::Queue').find(([qid]) => refersTo(destination, qid)) ?? [];
      expect(queue, `${id}'s on-failure destination is one of our queues`).toBeDefined();
      expect(queue!.Properties.KmsMasterKeyId).toBeDefined();
      expect(queue!.Properties.MessageRetentionPeriod).toBe(14 * 86_400);
      expect(alarmsOn(resources, 'ApproximateNumberOfMessagesVisible', queueId!), `${queueId} depth is alarmed`).toHaveLength(1);
      expect(alarmsOn(resources, 'AsyncEventsDropped', id), `${id} dropped events are alarmed`).toHaveLength(1);
    }
  });

  it('gives the rule target and every schedule a DLQ and a retry policy, and alarms on their failures', () => {
    for (const [, rule] of ofType(resources, 'AWS::Events::Rule')) {
      for (const target of rule.Properties.Targets) {
        expect(target.DeadLetterConfig?.Arn).toBeDefined();
        expect(target.RetryPolicy).toEqual({ MaximumEventAgeInSeconds: expect.any(Number), MaximumRetryAttempts: expect.any(Number) });
      }
    }
    for (const [, schedule] of ofType(resources, 'AWS::Scheduler::Schedule')) {
      expect(schedule.Properties.Target.DeadLetterConfig?.Arn).toBeDefined();
      expect(schedule.Properties.Target.RetryPolicy.MaximumRetryAttempts).toBeGreaterThanOrEqual(1);
      expect(schedule.Properties.GroupName).toBe(`dnis-sync-${config.stage}`);
    }
    const [reassignmentRuleId] = ofType(resources, 'AWS::Events::Rule').find(([, r]) => r.Properties.EventPattern['detail-type'][0] === 'DNIS Reassignment Requested')!;
    for (const metric of ['FailedInvocations', 'InvocationsFailedToBeSentToDlq']) {
      const [alarm] = alarmsOn(resources, metric, reassignmentRuleId);
      expect(alarm, metric).toBeDefined();
      expect(alarm![1].Properties.Dimensions.map((d: { Name: string }) => d.Name).sort()).toEqual(['EventBusName', 'RuleName']);
    }
    for (const metric of ['TargetErrorCount', 'InvocationDroppedCount', 'InvocationsFailedToBeSentToDeadLetterCount']) {
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        Namespace: 'AWS/Scheduler',
        MetricName: metric,
        Dimensions: [{ Name: 'ScheduleGroup', Value: `dnis-sync-${config.stage}` }],
      });
    }
  });

  it('alarms on "DNIS Export Incomplete" and mails the event', () => {
    const [ruleId, rule] = ofType(resources, 'AWS::Events::Rule').find(([, r]) => r.Properties.EventPattern['detail-type'][0] === 'DNIS Export Incomplete')!;
    expect(rule.Properties.EventPattern.source).toEqual(['dnis-sync']);
    const [topicId] = ofType(resources, 'AWS::SNS::Topic')[0]!;
    expect(refersTo(rule.Properties.Targets[0].Arn, topicId)).toBe(true);
    expect(alarmsOn(resources, 'TriggeredRules', ruleId)).toHaveLength(1);
  });

  it('alarms on the RingCX 429 rate from the worker and exporter metrics', () => {
    const [, alarm] = ofType(resources, 'AWS::CloudWatch::Alarm').find(([, a]) => JSON.stringify(a.Properties.Metrics ?? []).includes('RingCx429'))!;
    const metrics = alarm.Properties.Metrics as { Id: string; Expression?: string; ReturnData?: boolean; MetricStat?: { Metric: { MetricName: string; Dimensions: { Value: string }[] } } }[];
    expect(metrics.find((m) => m.ReturnData !== false)?.Expression).toContain('limited / calls');
    const watched = metrics.filter((m) => m.MetricStat).map((m) => `${m.MetricStat!.Metric.Dimensions[0]!.Value} ${m.MetricStat!.Metric.MetricName}`);
    expect(watched.sort()).toEqual(['dnis-sync-exporter RingCx429', 'dnis-sync-exporter RingCxCalls', 'dnis-sync-worker RingCx429', 'dnis-sync-worker RingCxCalls']);
  });

  it('sends every alarm to the alarm topic', () => {
    const [topicId] = ofType(resources, 'AWS::SNS::Topic')[0]!;
    for (const [id, alarm] of ofType(resources, 'AWS::CloudWatch::Alarm')) expect(refersTo(alarm.Properties.AlarmActions, topicId), id).toBe(true);
  });

  it('shows every row outcome on the dashboard, including unassigned, skipped and rejected', () => {
    const [, dashboard] = ofType(resources, 'AWS::CloudWatch::Dashboard')[0]!;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    for (const outcome of ['created', 'updated', 'assigned', 'reassigned', 'unassigned', 'unchanged', 'skipped', 'conflict', 'failed', 'rejected']) {
      expect(body, outcome).toContain(`Rows_${outcome}`);
    }
  });

  it('outputs every DLQ (ARN and URL), the redrive destinations, and the functions run on demand', () => {
    const queueOf = (output: string) => ofType(resources, 'AWS::SQS::Queue').find(([id]) => refersTo(outputs[output]?.Value, id))?.[0];
    for (const dlq of ['WorkDlq', 'PriorityDlq', 'EventsDlq', 'FailedInvocations']) {
      expect(queueOf(`${dlq}Arn`), dlq).toMatch(new RegExp(`^${dlq}`));
      expect(outputs[`${dlq}Arn`].Value['Fn::GetAtt'][1]).toBe('Arn');
      expect(queueOf(`${dlq}Url`), dlq).toBe(queueOf(`${dlq}Arn`));
    }
    expect(queueOf('WorkQueueArn')).toMatch(/^WorkQueue/);
    expect(queueOf('PriorityQueueArn')).toMatch(/^PriorityQueue/);
    expect(outputs.ExporterFunctionName.Value).toEqual({ Ref: functionId(resources, 'exporter') });
    expect(outputs.TokenRefresherFunctionName.Value).toEqual({ Ref: functionId(resources, 'tokenrefresher') });
    expect(outputs.ParserFunctionName.Value).toEqual({ Ref: functionId(resources, 'parser') });
  });

  it('grants each function exactly the DynamoDB actions its code uses, with the key', () => {
    const expected: Record<string, readonly string[]> = { ...TABLE_ACTIONS, reassignintake: [] };
    for (const [service, actions] of Object.entries(expected)) {
      // The shared RingCX budget's table is granted apart (stack.test.ts checks it); this is the job table.
      const statements = roleStatements(resources, functionId(resources, service === 'refresher' ? 'tokenrefresher' : service)).filter(
        (statement) => !JSON.stringify(statement).includes('dnis-sync-ringcx-budget'),
      );
      expect(actionsOf(statements, 'dynamodb:'), service).toEqual([...actions].sort());
      if (actions.length > 0) expect(actionsOf(statements, 'kms:'), service).toEqual(expect.arrayContaining(['kms:Decrypt']));
    }
    const everyStatement = ofType(resources, 'AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Condition?: unknown }[]);
    const everyAction = everyStatement.flatMap((s) => [s.Action].flat());
    expect(everyAction.filter((a: string) => a === 'dynamodb:*' || a === 'dynamodb:Scan')).toEqual([]);
    // Code deletes only the sweeper's list items (unfinished jobs, unsent answers): the grant says so.
    const deletes = everyStatement.filter((s) => [s.Action].flat().includes('dynamodb:DeleteItem'));
    expect(deletes.length).toBeGreaterThan(0);
    for (const statement of deletes) {
      expect(statement.Action).toBe('dynamodb:DeleteItem');
      expect(statement.Condition).toEqual({ 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': ['OPEN'] } });
    }
  });

  it('lets the refresher read, add a version and move AWSCURRENT onto it (its compare-and-set), nothing more', () => {
    const statements = roleStatements(resources, functionId(resources, 'tokenrefresher'));
    expect(actionsOf(statements, 'secretsmanager:')).toEqual(['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage']);
    const [secretId] = ofType(resources, 'AWS::SecretsManager::Secret')[0]!;
    for (const s of statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('secretsmanager:')))) expect(s.Resource, 'the stack secret only').toEqual({ Ref: secretId });
    const everyAction = ofType(resources, 'AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat()));
    expect(everyAction.filter((a: string) => a === 'secretsmanager:UpdateSecret' || a === 'secretsmanager:*')).toEqual([]);
    expect(everyAction.filter((a: string) => a === 'secretsmanager:UpdateSecretVersionStage'), 'the refresher alone moves stages').toHaveLength(1);
    for (const service of ['worker', 'exporter']) {
      expect(actionsOf(roleStatements(resources, functionId(resources, service)), 'secretsmanager:'), service).toEqual(['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue']);
    }
  });

  it('starts the secret as the literal placeholder the refresher waits on', () => {
    const [, secret] = ofType(resources, 'AWS::SecretsManager::Secret')[0]!;
    expect(secret.Properties.SecretString).toBe('{"awaitingCredentials":true}');
    expect(SECRET_PLACEHOLDER).toBe('{"awaitingCredentials":true}');
    expect(secret.Properties.GenerateSecretString).toBeUndefined();
  });

  it(config.stage === 'prod' ? 'retains secret, queues, log groups, bucket, table and key when the stack goes' : 'deletes everything with the stack', () => {
    const policy = config.stage === 'prod' ? 'Retain' : 'Delete';
    const dataTypes = ['AWS::SecretsManager::Secret', 'AWS::SQS::Queue', 'AWS::Logs::LogGroup', 'AWS::S3::Bucket', 'AWS::DynamoDB::GlobalTable', 'AWS::KMS::Key'];
    for (const type of dataTypes) {
      const found = ofType(resources, type);
      expect(found.length, type).toBeGreaterThan(0);
      for (const [id, r] of found) {
        expect(r.DeletionPolicy, id).toBe(policy);
        expect(r.UpdateReplacePolicy, id).toBe(policy);
      }
    }
  });

  it('keeps audit entries forever unless the stage sets a retention', () => {
    for (const [, f] of ofType(resources, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME)) {
      expect(f.Properties.Environment.Variables.AUDIT_RETENTION_DAYS).toBeUndefined();
    }
    const withRetention = synth({ ...config, auditRetentionDays: 400 });
    const worker = withRetention.resources[functionId(withRetention.resources, 'worker')]!;
    expect(worker.Properties.Environment.Variables.AUDIT_RETENTION_DAYS).toBe('400');
  });

  it('admits reassignment sources on the bus only from the configured senders', () => {
    const policies = ofType(resources, 'AWS::Events::EventBusPolicy').map(([, p]) => p.Properties.Statement);
    // No sender configured: the request sources are denied to everyone.
    expect(policies).toEqual([
      expect.objectContaining({ Effect: 'Deny', Principal: { AWS: '*' }, Action: 'events:PutEvents', Condition: { 'ForAnyValue:StringEquals': { 'events:source': config.eventSources } } }),
    ]);
  });

  it('carries no simulator value', () => {
    const fixtures = readFileSync(join(import.meta.dirname, '../../local/ringcx-simulator/fixtures.ts'), 'utf8');
    const simulatorAccounts = [...fixtures.matchAll(/accountId: '(\d+)'|mainAccountId: '(\d+)'/g)].map((m) => m[1] ?? m[2]);
    expect(simulatorAccounts.length).toBeGreaterThan(0);
    const configText = JSON.stringify(config);
    const templateText = JSON.stringify(template.toJSON());
    for (const account of new Set(simulatorAccounts)) {
      expect(configText, account).not.toContain(account);
      expect(templateText, account).not.toContain(account);
    }
    expect(config.defaultAccountId).toBeUndefined();
    expect(configText).not.toMatch(/localhost|127\.0\.0\.1|simulator/i);
  });
});

describe('stage settings', () => {
  it('subscribes alarmEmail to the alarm topic, and nobody when it is unset', () => {
    for (const config of Object.values(STAGES)) {
      expect(config.alarmEmail, `${config.stage}: set alarmEmail in infra/config.ts, not in code defaults`).toBeUndefined();
      expect(ofType(synth(config).resources, 'AWS::SNS::Subscription')).toHaveLength(0);
    }
    const { resources } = synth({ ...STAGES.prod, alarmEmail: 'oncall@example.com' });
    const [topicId] = ofType(resources, 'AWS::SNS::Topic')[0]!;
    const subscriptions = ofType(resources, 'AWS::SNS::Subscription');
    expect(subscriptions).toHaveLength(1);
    expect(subscriptions[0]![1].Properties).toMatchObject({ Protocol: 'email', Endpoint: 'oncall@example.com', TopicArn: { Ref: topicId } });
  });

  it('refuses an alarmEmail that is not an address', () => {
    expect(() => synth({ ...STAGES.dev, alarmEmail: 'oncall' })).toThrow(/alarmEmail/);
  });

  it('admits the configured sender roles for the request sources only, and denies those sources to everyone else', () => {
    const senders = ['arn:aws:iam::111122223333:role/crm-dnis-requests', 'arn:aws:iam::123456789012:role/ops-console'];
    const { resources } = synth({ ...STAGES.prod, reassignmentSenders: senders, eventSources: ['crm.requests', 'ops.requests'] });
    const statements = ofType(resources, 'AWS::Events::EventBusPolicy').map(([, p]) => p.Properties.Statement);
    const deny = statements.find((s) => s.Effect === 'Deny');
    const allow = statements.find((s) => s.Effect === 'Allow');
    expect(deny).toMatchObject({
      Principal: { AWS: '*' },
      Action: 'events:PutEvents',
      Condition: { 'ForAnyValue:StringEquals': { 'events:source': ['crm.requests', 'ops.requests'] }, ArnNotEquals: { 'aws:PrincipalArn': senders } },
    });
    expect(allow).toMatchObject({ Principal: { AWS: senders }, Action: 'events:PutEvents', Condition: { 'ForAllValues:StringEquals': { 'events:source': ['crm.requests', 'ops.requests'] } } });
    expect(statements).toHaveLength(2);
  });

  it('refuses a sender that is not a role ARN, and the system\'s own source as a request source', () => {
    expect(() => synth({ ...STAGES.dev, reassignmentSenders: ['arn:aws:iam::123456789012:user/alice'] })).toThrow(/reassignmentSenders/);
    expect(() => synth({ ...STAGES.dev, reassignmentSenders: ['123456789012'] })).toThrow(/reassignmentSenders/);
    expect(() => synth({ ...STAGES.dev, eventSources: ['dnis-sync'] })).toThrow(/eventSources/);
  });
});
