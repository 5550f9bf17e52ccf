import {
  App,
  Duration,
  Stack,
  aws_events as events,
  aws_events_targets as eventTargets,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_lambda_destinations as destinations,
  aws_logs as logs,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { STAGES } from '../../infra/config';
import { DnisSyncStack } from '../../infra/stack';
import { encryptedResources, keyWriterProblems, type Template as Json, writersOf } from './keyWriters';

const env = { account: '123456789012', region: 'us-east-1' };

function templateOf(stage: keyof typeof STAGES): Json {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return Template.fromStack(new DnisSyncStack(app, `DnisSync-${stage}`, { config: STAGES[stage], env })).toJSON() as Json;
}

describe.each(Object.keys(STAGES) as (keyof typeof STAGES)[])('the %s stack key', (stage) => {
  const template = templateOf(stage);

  it('admits every writer of every resource it encrypts (found by walking the template)', () => {
    const { resources, writers, problems } = keyWriterProblems(template, env);
    // The walk must see each kind of encrypted resource, or it proves nothing about it.
    expect(new Set(resources.map((r) => r.type))).toEqual(
      new Set(['AWS::Logs::LogGroup', 'AWS::SQS::Queue', 'AWS::SNS::Topic', 'AWS::SecretsManager::Secret', 'AWS::S3::Bucket', 'AWS::DynamoDB::GlobalTable']),
    );
    expect(writers).toBeGreaterThan(resources.length);
    expect(problems).toEqual([]);
  });

  it('finds the writers that made the first deploy fail: log delivery, the rule DLQ, the schedule DLQ role, alarms', () => {
    const resources = encryptedResources(template);
    const writers = resources.flatMap((r) => writersOf(template, r, env).map((w) => ({ type: r.type, ...w })));
    const services = new Set(writers.flatMap((w) => (w.kind === 'service' ? [`${w.type} ${w.service}`] : [])));
    expect(services).toEqual(
      new Set([
        'AWS::Logs::LogGroup logs.us-east-1.amazonaws.com',
        'AWS::SQS::Queue events.amazonaws.com',
        'AWS::SNS::Topic cloudwatch.amazonaws.com',
      ]),
    );
    expect(writers.filter((w) => w.via.startsWith('schedule ')).length).toBeGreaterThanOrEqual(2);
    expect(writers.filter((w) => w.via.startsWith('async invocation destination')).length).toBeGreaterThanOrEqual(4);
    // The export-incomplete rule publishes to the topic as its own role.
    expect(writers.some((w) => w.type === 'AWS::SNS::Topic' && w.kind === 'role')).toBe(true);
  });

  it('scopes each service statement to this account, and log delivery to this account\'s log groups', () => {
    const key = Object.values(template.Resources).find((r) => r.Type === 'AWS::KMS::Key')!;
    const statements = key.Properties.KeyPolicy.Statement as { Principal?: { Service?: string }; Condition?: Record<string, Record<string, unknown>> }[];
    const services = statements.filter((s) => s.Principal?.Service);
    expect(services.length).toBeGreaterThanOrEqual(3);
    for (const s of services) {
      if (String(s.Principal!.Service).startsWith('logs.')) {
        expect(JSON.stringify(s.Condition?.ArnLike?.['kms:EncryptionContext:aws:logs:arn'])).toContain(':123456789012:log-group:*');
      } else {
        expect(s.Condition?.StringEquals?.['aws:SourceAccount'], String(s.Principal!.Service)).toBe('123456789012');
        expect(s.Condition?.ArnLike?.['aws:SourceArn'], String(s.Principal!.Service)).toBeDefined();
      }
    }
  });
});

describe('a function another construct adds to the stack', () => {
  const addScheduledFunction = (useStackRole: boolean) => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new DnisSyncStack(app, 'WithExtra', { config: STAGES.dev, env });
    const f = new lambda.Function(stack, 'Extra', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('export const handler = () => {}') });
    f.configureAsyncInvoke({ onFailure: new destinations.SqsDestination(stack.failedInvocations) });
    stack.grantTable(f, ['dynamodb:Query']);
    new scheduler.Schedule(stack, 'ExtraSchedule', {
      scheduleGroup: stack.scheduleGroup,
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(5)),
      target: new schedulerTargets.LambdaInvoke(f, { deadLetterQueue: stack.eventsDlq, ...(useStackRole ? { role: stack.schedulerRole('ExtraSchedulerRole') } : {}) }),
    });
    return keyWriterProblems(Template.fromStack(stack).toJSON() as Json, env).problems;
  };

  it('passes the key walk when it uses the stack\'s scheduler role, table grant and failure queue', () => {
    expect(addScheduledFunction(true)).toEqual([]);
  });

  it('fails the key walk when its schedule writes the encrypted DLQ with a role the key does not admit', () => {
    const problems = addScheduledFunction(false);
    expect(problems.length).toBeGreaterThan(0);
    for (const p of problems) expect(p).toMatch(/EventsDlq.*may not kms:(GenerateDataKey|Decrypt)/);
  });
});

describe('the key-writer walk (the check is live)', () => {
  it('reports a log group, a rule DLQ and an async destination whose writers the key refuses', () => {
    const app = new App();
    const stack = new Stack(app, 'Careless', { env });
    const key = new kms.Key(stack, 'Key');
    new logs.LogGroup(stack, 'Logs', { encryptionKey: key });
    const dlq = new sqs.Queue(stack, 'Dlq', { encryptionMasterKey: key });
    const failures = new sqs.Queue(stack, 'Failures', { encryptionMasterKey: key });
    const bus = new events.EventBus(stack, 'Bus', { eventBusName: 'careless' });
    const f = new lambda.Function(stack, 'Fn', { runtime: lambda.Runtime.NODEJS_22_X, handler: 'index.handler', code: lambda.Code.fromInline('export const handler = () => {}') });
    new events.Rule(stack, 'Rule', { eventBus: bus, eventPattern: { source: ['x'] }, targets: [new eventTargets.LambdaFunction(f, { deadLetterQueue: dlq, maxEventAge: Duration.hours(1) })] });
    // A destination given by ARN, so nothing grants the function's role the key.
    new lambda.CfnEventInvokeConfig(stack, 'Async', { functionName: f.functionName, qualifier: '$LATEST', destinationConfig: { onFailure: { destination: failures.queueArn } } });
    const { problems } = keyWriterProblems(Template.fromStack(stack).toJSON() as Json, env);
    expect(problems.some((p) => p.startsWith('AWS::Logs::LogGroup') && p.includes('does not admit logs.us-east-1.amazonaws.com'))).toBe(true);
    expect(problems.some((p) => p.includes('(rule') && p.includes('does not admit events.amazonaws.com'))).toBe(true);
    expect(problems.some((p) => p.includes('async invocation destination') && p.includes('may not kms:GenerateDataKey'))).toBe(true);
  });

  it('reports a service admitted without conditions', () => {
    const app = new App();
    const stack = new Stack(app, 'Unconditional', { env });
    const key = new kms.Key(stack, 'Key');
    key.grant(new iam.ServicePrincipal('logs.us-east-1.amazonaws.com'), 'kms:GenerateDataKey*', 'kms:Decrypt');
    new logs.LogGroup(stack, 'Logs', { encryptionKey: key });
    const { problems } = keyWriterProblems(Template.fromStack(stack).toJSON() as Json, env);
    expect(problems).toHaveLength(2);
    for (const p of problems) expect(p).toContain('without a condition');
  });
});
