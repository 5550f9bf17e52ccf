import { App, Stack, Validations, aws_s3 as s3 } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { STAGES, type StageConfig } from '../../infra/config';
import { RINGCX_BUDGET_TABLE_NAME } from '../../infra/budgetStack';
import { DnisSyncStack } from '../../infra/stack';

/** Bundling skipped: these tests are about the template, and esbuild runs in `cdk synth`. */
function synth(config: StageConfig, nag = false) {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new DnisSyncStack(app, `DnisSync-${config.stage}`, { config, env: { account: '123456789012', region: 'us-east-1' } });
  // Before any synthesis: a synthesised assembly is cached, and checks added later never run.
  if (nag) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, template: nag ? undefined : Template.fromStack(stack) };
}

type Resource = { Type: string; Properties: Record<string, any> };
const ofType = (template: Template, type: string) => Object.values(template.findResources(type)) as Resource[];
const ourFunctions = (template: Template) => ofType(template, 'AWS::Lambda::Function').filter((f) => f.Properties.Environment?.Variables?.POWERTOOLS_SERVICE_NAME);

describe.each(Object.values(STAGES))('stack for stage $stage', (config) => {
  const template = synth(config).template as Template;

  it('runs every function on nodejs22.x with Powertools settings and source maps', () => {
    const functions = ourFunctions(template);
    expect(functions.map((f) => f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME).sort()).toEqual([
      'dnis-sync-exporter',
      'dnis-sync-parser',
      'dnis-sync-reassignintake',
      'dnis-sync-sweeper',
      'dnis-sync-tokenrefresher',
      'dnis-sync-worker',
    ]);
    for (const f of functions) {
      expect(f.Properties.Runtime).toBe('nodejs22.x');
      expect(f.Properties.Environment.Variables).toMatchObject({ NODE_OPTIONS: '--enable-source-maps', POWERTOOLS_METRICS_NAMESPACE: 'DnisSync', RINGCX_SELF_LOGIN: 'false' });
    }
  });

  it('gives the three worker queues (work, bulk, priority) a DLQ, maxReceiveCount, and a visibility timeout of at least 6x the worker timeout', () => {
    const worker = ourFunctions(template).find((f) => f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'dnis-sync-worker');
    // The exporter's continuation queue has its own checks (exportContinuation.test.ts).
    const queues = Object.entries(template.findResources('AWS::SQS::Queue')).filter(([id, q]) => q.Properties.RedrivePolicy && !id.startsWith('ExportsQueue')).map(([, q]) => q as Resource);
    expect(queues).toHaveLength(3);
    for (const q of queues) {
      expect(q.Properties.RedrivePolicy.maxReceiveCount).toBe(config.maxReceiveCount);
      expect(q.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * worker!.Properties.Timeout);
    }
  });

  it('reports batch item failures on the three row event source mappings, within the configured concurrency', () => {
    const mappings = ofType(template, 'AWS::Lambda::EventSourceMapping').filter((m) => !JSON.stringify(m.Properties.EventSourceArn).includes('ExportsQueue'));
    expect(mappings).toHaveLength(3);
    for (const m of mappings) expect(m.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    expect(mappings.map((m) => m.Properties.ScalingConfig.MaximumConcurrency).sort()).toEqual([config.priority.maxConcurrency, config.worker.maxConcurrency, config.bulk.maxConcurrency].sort());
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: config.worker.batchSize, MaximumBatchingWindowInSeconds: config.worker.batchWindowSeconds });
  });

  it('gives no function a private RingCX budget: every caller takes from the one shared table', () => {
    const functions = ourFunctions(template);
    const byService = (name: string) => functions.find((f) => f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === name)!;
    for (const f of functions) {
      const env = f.Properties.Environment.Variables;
      // The tenant's whole limit and the shared table: never a slice of it held in one process.
      expect(env.RINGCX_BUDGET_TABLE, env.POWERTOOLS_SERVICE_NAME).toBe(RINGCX_BUDGET_TABLE_NAME);
      expect(Number(env.RINGCX_REQUESTS_PER_WINDOW), env.POWERTOOLS_SERVICE_NAME).toBe(config.ringcxRequestsPerMinute);
      expect(Number(env.RINGCX_BUDGET_HEADROOM)).toBe(config.ringcxHeadroom);
    }
    expect(byService('dnis-sync-worker').Properties.Environment.Variables.RINGCX_BUDGET_PRIORITY).toBe('import');
    expect(byService('dnis-sync-exporter').Properties.Environment.Variables.RINGCX_BUDGET_PRIORITY).toBe('export');
    expect(byService('dnis-sync-tokenrefresher').Properties.Environment.Variables.RINGCX_BUDGET_PRIORITY).toBe('auth');
    const worker = byService('dnis-sync-worker');
    // Reserved concurrency covers the three mappings, so SQS receives are never throttled into the DLQ.
    expect(worker.Properties.ReservedConcurrentExecutions).toBeGreaterThanOrEqual(config.worker.maxConcurrency + config.bulk.maxConcurrency + config.priority.maxConcurrency);
    expect(byService('dnis-sync-exporter').Properties.ReservedConcurrentExecutions).toBe(1);
  });

  it('lets each RingCX caller read and update the shared budget table, and nothing more on it', () => {
    const budgetArn = (value: unknown) => JSON.stringify(value).includes(`table/${RINGCX_BUDGET_TABLE_NAME}`);
    const grants = ofType(template, 'AWS::IAM::Policy').flatMap((policy) =>
      (policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
        .filter((statement) => budgetArn(statement.Resource))
        .map((statement) => ({ roles: JSON.stringify(policy.Properties.Roles), actions: [statement.Action].flat() })),
    );
    for (const role of ['WorkerServiceRole', 'ExporterServiceRole', 'TokenRefresherServiceRole']) {
      const granted = grants.filter((g) => g.roles.includes(role)).flatMap((g) => g.actions);
      expect(new Set(granted), role).toEqual(new Set(['dynamodb:GetItem', 'dynamodb:UpdateItem']));
    }
    expect(grants.filter((g) => /Parser|ReassignIntake|Sweeper/.test(g.roles))).toEqual([]);
  });

  it('encrypts queues, table, topic, secret and the bucket with the stack key, and enforces TLS', () => {
    for (const q of ofType(template, 'AWS::SQS::Queue')) expect(q.Properties.KmsMasterKeyId).toBeDefined();
    template.hasResourceProperties('AWS::DynamoDB::GlobalTable', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS' },
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      Replicas: [Match.objectLike({ PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true } })],
    });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SecretsManager::Secret', { KmsKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [Match.objectLike({ ServerSideEncryptionByDefault: { SSEAlgorithm: 'aws:kms' } })] },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  it('carries no credential in the template', () => {
    const secret = ofType(template, 'AWS::SecretsManager::Secret')[0];
    expect(JSON.parse(secret?.Properties.SecretString)).toEqual({ awaitingCredentials: true });
    expect(JSON.stringify(template.toJSON())).not.toMatch(/clientSecret"\s*:\s*"[^"]|apiToken"\s*:\s*"[^"]/);
  });

  it('schedules the export (in its time zone) and the refresher, and routes reassignment requests from trusted senders only', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: `cron(${config.exporter.cron})`, ScheduleExpressionTimezone: config.exporter.timeZone });
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: `rate(${config.refresherEveryMinutes} minutes)` });
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { 'detail-type': ['DNIS Reassignment Requested'], source: config.eventSources },
      Targets: [Match.objectLike({ DeadLetterConfig: Match.anyValue(), RetryPolicy: Match.anyValue() })],
    });
    template.resourceCountIs('AWS::Events::EventBusPolicy', config.reassignmentSenders.length > 0 ? 2 : 1);
  });

  it('alarms on DLQ depth, oldest message age, errors and throttles', () => {
    const alarms = ofType(template, 'AWS::CloudWatch::Alarm').map((a) => a.Properties.MetricName);
    // Work, bulk, priority, events and exports DLQs, and the failed-invocations queue.
    expect(alarms.filter((m) => m === 'ApproximateNumberOfMessagesVisible')).toHaveLength(6);
    // Work, bulk and priority queues.
    expect(alarms.filter((m) => m === 'ApproximateAgeOfOldestMessage')).toHaveLength(3);
    expect(alarms.filter((m) => m === 'Errors')).toHaveLength(6);
    expect(alarms.filter((m) => m === 'Throttles')).toHaveLength(5);
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });

  it('sweeps on a schedule and alarms on stalled jobs and on job age (the completion guarantee)', () => {
    template.hasResourceProperties('AWS::Scheduler::Schedule', { ScheduleExpression: 'rate(5 minutes)' });
    const alarms = ofType(template, 'AWS::CloudWatch::Alarm').map((a) => a.Properties);
    expect(alarms.find((a) => a.MetricName === 'StalledJobs')).toMatchObject({ Namespace: 'DnisSync', Threshold: 1 });
    expect(alarms.find((a) => a.MetricName === 'OldestOpenJobAgeSeconds')).toMatchObject({ Namespace: 'DnisSync', Threshold: 6 * 3600 });
    const sweeper = ourFunctions(template).find((f) => f.Properties.Environment.Variables.POWERTOOLS_SERVICE_NAME === 'dnis-sync-sweeper');
    expect(sweeper?.Properties.Environment.Variables).toMatchObject({ WORK_VISIBILITY_TIMEOUT_SECONDS: String(config.worker.timeoutSeconds * 6), SWEEP_INTERVAL_SECONDS: '300' });
  });

  it('matches its snapshot', () => {
    const json = JSON.stringify(template.toJSON()).replace(/[0-9a-f]{64}\.zip/g, '<asset>.zip');
    expect(JSON.parse(json)).toMatchSnapshot();
  });
});

describe('cdk-nag', () => {
  it.each(Object.values(STAGES))('synthesises $stage with AwsSolutionsChecks and no unacknowledged finding', (config) => {
    const { app } = synth(config, true);
    expect(() => app.synth()).not.toThrow();
  });

  it('fails synth on an unacknowledged finding (the check is live)', () => {
    const app = new App();
    const stack = new Stack(app, "Careless");
    new s3.Bucket(stack, 'Open', { enforceSSL: false });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).toThrow();
  });
});
