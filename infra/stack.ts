import { join } from 'node:path';
import {
  Aws,
  type CfnElement,
  CfnOutput,
  Duration,
  RemovalPolicy,
  Size,
  Stack,
  type StackProps,
  TimeZone,
  Validations,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_dynamodb as dynamodb,
  aws_events as events,
  aws_events_targets as eventTargets,
  aws_iam as iam,
  aws_kms as kms,
  aws_lambda as lambda,
  aws_lambda_event_sources as sources,
  aws_lambda_nodejs as nodejs,
  aws_logs as logs,
  aws_s3 as s3,
  aws_s3_notifications as s3n,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
  aws_sqs as sqs,
} from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { JOB_TABLE } from '../shared/jobs/table';
import { ringcxBudget, type StageConfig } from './config';
import { CompletionSweeper } from './sweeper';

export interface DnisSyncStackProps extends StackProps {
  config: StageConfig;
}

const ROOT = join(import.meta.dirname, '..');

/**
 * dnis-sync in one stack: bucket → parser → work queue → worker → RingCX, the priority queue fed
 * by reassignment events, the scheduled exporter and token refresher, and their alarms.
 */
export class DnisSyncStack extends Stack {
  constructor(scope: Construct, id: string, props: DnisSyncStackProps) {
    super(scope, id, props);
    const { config } = props;
    const budget = ringcxBudget(config);
    const prod = config.stage === 'prod';

    const key = new kms.Key(this, 'Key', {
      description: 'dnis-sync: queues, table, secret, topic and logs',
      enableKeyRotation: true,
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    key.grant(new iam.ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');

    // ---- storage ----
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !prod,
    });
    const bucket = new s3.Bucket(this, 'Bucket', {
      encryption: s3.BucketEncryption.KMS,
      encryptionKey: key,
      bucketKeyEnabled: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // Versioning makes every upload its own S3 notification and its own job.
      versioned: true,
      serverAccessLogsBucket: accessLogs,
      serverAccessLogsPrefix: 'bucket/',
      lifecycleRules: [
        { prefix: 'results/', expiration: Duration.days(config.retention.resultsDays), noncurrentVersionExpiration: Duration.days(7) },
        { prefix: 'exports/', expiration: Duration.days(config.retention.exportsDays), noncurrentVersionExpiration: Duration.days(7) },
        { prefix: 'incoming/', noncurrentVersionExpiration: Duration.days(30) },
        { prefix: 'plan/', expiration: Duration.days(30), noncurrentVersionExpiration: Duration.days(7) },
        { abortIncompleteMultipartUploadAfter: Duration.days(2) },
      ],
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !prod,
    });

    const table = new dynamodb.TableV2(this, 'Jobs', {
      partitionKey: { name: JOB_TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: JOB_TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billing: dynamodb.Billing.onDemand(),
      timeToLiveAttribute: JOB_TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: dynamodb.TableEncryptionV2.customerManagedKey(key),
      deletionProtection: prod,
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });

    // The template carries no credential: CloudFormation generates a placeholder that the
    // operator replaces with the RingCX JSON (README, "Putting credentials in").
    const secret = new secretsmanager.Secret(this, 'RingCxSecret', {
      description: 'RingCX credentials for dnis-sync: {"clientId","clientSecret","jwt"} or {"apiToken"}',
      encryptionKey: key,
    });

    // ---- queues ----
    const queue = (name: string, visibility: Duration, dlq?: sqs.IQueue) =>
      new sqs.Queue(this, name, {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: key,
        enforceSSL: true,
        visibilityTimeout: visibility,
        retentionPeriod: Duration.days(dlq ? 4 : 14),
        ...(dlq ? { deadLetterQueue: { queue: dlq, maxReceiveCount: config.maxReceiveCount } } : {}),
      });
    // AWS: visibility at least 6× the function timeout, so throttled batches are retried, not dropped.
    const workerVisibility = Duration.seconds(config.worker.timeoutSeconds * 6);
    const workDlq = queue('WorkDlq', Duration.seconds(30));
    const priorityDlq = queue('PriorityDlq', Duration.seconds(30));
    const eventsDlq = queue('EventsDlq', Duration.seconds(30));
    const workQueue = queue('WorkQueue', workerVisibility, workDlq);
    const priorityQueue = queue('PriorityQueue', workerVisibility, priorityDlq);

    // ---- events ----
    const bus = new events.EventBus(this, 'Bus', { eventBusName: `dnis-sync-${config.stage}` });
    // Only principals of this account may put events on the bus.
    bus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ThisAccountOnly',
        principals: [new iam.AccountRootPrincipal()],
        actions: ['events:PutEvents'],
        resources: [bus.eventBusArn],
      }),
    );

    // ---- functions ----
    const topic = new sns.Topic(this, 'Alarms', { masterKey: key, enforceSSL: true, displayName: `dnis-sync ${config.stage} alarms` });
    if (config.alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    const alarmAction = new cwActions.SnsAction(topic);

    const commonEnv: Record<string, string> = {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_METRICS_NAMESPACE: 'DnisSync',
      POWERTOOLS_LOG_LEVEL: prod ? 'INFO' : 'DEBUG',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      RINGCX_BASE_URL: config.ringcxBaseUrl,
      RINGCENTRAL_BASE_URL: config.ringCentralBaseUrl,
      RINGCX_SECRET_ID: secret.secretArn,
      RINGCX_SELF_LOGIN: 'false',
      TABLE_NAME: table.tableName,
      BUCKET_NAME: bucket.bucketName,
      WORK_QUEUE_URL: workQueue.queueUrl,
      PRIORITY_QUEUE_URL: priorityQueue.queueUrl,
      EVENTS_DLQ_URL: eventsDlq.queueUrl,
      EVENT_BUS_NAME: bus.eventBusName,
      EVENT_SOURCES: config.eventSources.join(','),
      MAX_RECEIVE_COUNT: String(config.maxReceiveCount),
      MAX_FILE_BYTES: String(config.parser.maxFileMb * 1024 * 1024),
      MAX_ROWS: String(config.parser.maxRows),
      JOB_RETENTION_DAYS: String(config.retention.jobDays),
      ...(config.defaultAccountId ? { RINGCX_DEFAULT_ACCOUNT_ID: config.defaultAccountId } : {}),
      ...(config.accountIds ? { RINGCX_ACCOUNT_IDS: config.accountIds.join(',') } : {}),
      ...(config.maintenanceWindow ? { MAINTENANCE_WINDOW: config.maintenanceWindow } : {}),
    };

    const fn = (name: string, entry: string, options: { timeoutSeconds: number; memoryMb: number; env?: Record<string, string>; ephemeralStorageGb?: number; reservedConcurrency?: number }) => {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, {
        retention: config.retention.logDays as logs.RetentionDays,
        encryptionKey: key,
        removalPolicy: RemovalPolicy.DESTROY,
      });
      const f = new nodejs.NodejsFunction(this, name, {
        entry: join(ROOT, entry),
        handler: 'handler',
        runtime: lambda.Runtime.NODEJS_22_X,
        architecture: lambda.Architecture.ARM_64,
        timeout: Duration.seconds(options.timeoutSeconds),
        memorySize: options.memoryMb,
        ...(options.ephemeralStorageGb ? { ephemeralStorageSize: Size.gibibytes(options.ephemeralStorageGb) } : {}),
        ...(options.reservedConcurrency ? { reservedConcurrentExecutions: options.reservedConcurrency } : {}),
        logGroup,
        environment: { ...commonEnv, POWERTOOLS_SERVICE_NAME: `dnis-sync-${name.toLowerCase()}`, ...options.env },
        depsLockFilePath: join(ROOT, 'package-lock.json'),
        projectRoot: ROOT,
        bundling: {
          format: nodejs.OutputFormat.ESM,
          target: 'node22',
          minify: true,
          sourceMap: true,
          forceDockerBundling: false,
          externalModules: ['@aws-sdk/*'],
          mainFields: ['module', 'main'],
          banner: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);",
        },
      });
      new cloudwatch.Alarm(this, `${name}Errors`, {
        metric: f.metricErrors({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `${name} threw (a whole invocation failed)`,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(alarmAction);
      new cloudwatch.Alarm(this, `${name}Throttles`, {
        metric: f.metricThrottles({ period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `${name} was throttled (throttled SQS receives count toward the DLQ)`,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(alarmAction);
      return f;
    };

    const parser = fn('Parser', 'functions/parser/app.ts', {
      timeoutSeconds: config.parser.timeoutSeconds,
      memoryMb: config.parser.memoryMb,
      ephemeralStorageGb: config.parser.ephemeralStorageGb,
    });
    const worker = fn('Worker', 'functions/worker/app.ts', {
      timeoutSeconds: config.worker.timeoutSeconds,
      memoryMb: config.worker.memoryMb,
      // Instances = both queues' maxConcurrency, so each instance's slice of the budget holds.
      reservedConcurrency: budget.workerInstances,
      env: { RINGCX_REQUESTS_PER_WINDOW: String(budget.perWorker), RINGCX_WINDOW_MS: '60000' },
    });
    const intake = fn('ReassignIntake', 'functions/reassign-intake/app.ts', { timeoutSeconds: 30, memoryMb: 256 });
    const exporter = fn('Exporter', 'functions/exporter/app.ts', {
      timeoutSeconds: config.exporter.timeoutSeconds,
      memoryMb: config.exporter.memoryMb,
      reservedConcurrency: 1,
      env: { RINGCX_REQUESTS_PER_WINDOW: String(budget.exporter), RINGCX_WINDOW_MS: '60000', EXPORT_PAGE_SIZE: String(config.exporter.pageSize) },
    });
    const refresher = fn('TokenRefresher', 'functions/token-refresher/app.ts', { timeoutSeconds: 60, memoryMb: 256, reservedConcurrency: 1 });

    // ---- wiring and least privilege ----
    for (const prefix of ['incoming/', 'plan/']) {
      bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(parser), { prefix });
    }
    bucket.grantRead(parser, 'incoming/*');
    bucket.grantRead(parser, 'plan/*');
    for (const f of [parser, worker]) bucket.grantPut(f, 'results/*');
    bucket.grantPut(exporter, 'exports/*');
    workQueue.grantSendMessages(parser);
    priorityQueue.grantSendMessages(intake);
    // A held reassignment goes back on the priority queue with a delay.
    priorityQueue.grantSendMessages(worker);
    eventsDlq.grantSendMessages(intake);
    for (const f of [parser, worker, exporter, refresher]) table.grantReadWriteData(f);
    for (const f of [worker, exporter]) secret.grantRead(f);
    secret.grantRead(refresher);
    secret.grantWrite(refresher);
    for (const f of [parser, worker, exporter, intake]) bus.grantPutEventsTo(f);

    worker.addEventSource(
      new sources.SqsEventSource(workQueue, {
        batchSize: config.worker.batchSize,
        maxBatchingWindow: Duration.seconds(config.worker.batchWindowSeconds),
        maxConcurrency: config.worker.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    worker.addEventSource(
      new sources.SqsEventSource(priorityQueue, {
        batchSize: config.priority.batchSize,
        maxConcurrency: config.priority.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    new events.Rule(this, 'ReassignmentRule', {
      eventBus: bus,
      description: 'Reassignment requests from trusted senders only',
      eventPattern: { detailType: ['DNIS Reassignment Requested'], source: config.eventSources },
      targets: [new eventTargets.LambdaFunction(intake, { deadLetterQueue: eventsDlq, retryAttempts: 8, maxEventAge: Duration.hours(24) })],
    });

    const schedulerDlq = eventsDlq;
    new scheduler.Schedule(this, 'ExportSchedule', {
      description: 'Daily export with drift report',
      schedule: scheduler.ScheduleExpression.expression(`cron(${config.exporter.cron})`, TimeZone.of(config.exporter.timeZone)),
      target: new schedulerTargets.LambdaInvoke(exporter, { deadLetterQueue: schedulerDlq, retryAttempts: 2 }),
    });
    new scheduler.Schedule(this, 'RefreshSchedule', {
      description: 'Keeps the RingCX token in the secret fresh (tokens live 5 minutes)',
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(config.refresherEveryMinutes)),
      target: new schedulerTargets.LambdaInvoke(refresher, { deadLetterQueue: schedulerDlq, retryAttempts: 1 }),
    });

    new CompletionSweeper(this, 'Sweeper', { config, environment: commonEnv, key, table, bucket, workQueue, bus, alarmAction, scheduleDlq: schedulerDlq });

    // ---- alarms and dashboard ----
    for (const [name, dlq] of [['WorkDlq', workDlq], ['PriorityDlq', priorityDlq], ['EventsDlq', eventsDlq]] as const) {
      const alarm = new cloudwatch.Alarm(this, `${name}Depth`, {
        metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `${name} has messages: rows or requests that need a person (see README, Redriving)`,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(alarmAction);
      alarm.addOkAction(alarmAction);
    }
    for (const [name, q] of [['WorkQueue', workQueue], ['PriorityQueue', priorityQueue]] as const) {
      new cloudwatch.Alarm(this, `${name}OldestMessage`, {
        metric: q.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
        threshold: name === 'PriorityQueue' ? 900 : config.oldestMessageAlarmSeconds,
        evaluationPeriods: 3,
        alarmDescription: `${name}: the oldest message has waited too long; workers may be stuck or starved of RingCX budget`,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(alarmAction);
    }
    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `dnis-sync-${config.stage}` });
    const rows = (outcome: string) => new cloudwatch.Metric({ namespace: 'DnisSync', metricName: `Rows_${outcome}`, dimensionsMap: { service: 'dnis-sync-worker' }, statistic: 'Sum', period: Duration.minutes(5) });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({ title: 'Rows by outcome', left: ['created', 'updated', 'assigned', 'reassigned', 'unchanged', 'conflict', 'failed'].map(rows), width: 12 }),
      new cloudwatch.GraphWidget({
        title: 'RingCX calls, 429s and retries',
        left: ['RingCxCalls', 'RingCx429', 'RingCxRetries'].map((metricName) => new cloudwatch.Metric({ namespace: 'DnisSync', metricName, dimensionsMap: { service: 'dnis-sync-worker' }, statistic: 'Sum', period: Duration.minutes(1) })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({ title: 'Queue depth', left: [workQueue.metricApproximateNumberOfMessagesVisible(), priorityQueue.metricApproximateNumberOfMessagesVisible(), workDlq.metricApproximateNumberOfMessagesVisible()], width: 12 }),
      new cloudwatch.GraphWidget({ title: 'Worker errors and throttles', left: [worker.metricErrors(), worker.metricThrottles(), parser.metricErrors()], width: 12 }),
    );

    new CfnOutput(this, 'BucketName', { value: bucket.bucketName });
    new CfnOutput(this, 'SecretArn', { value: secret.secretArn });
    new CfnOutput(this, 'EventBusName', { value: bus.eventBusName });
    new CfnOutput(this, 'WorkDlqUrl', { value: workDlq.queueUrl });
    new CfnOutput(this, 'WorkQueueArn', { value: workQueue.queueArn });
    new CfnOutput(this, 'AlarmTopicArn', { value: topic.topicArn });
    new CfnOutput(this, 'Region', { value: Aws.REGION });

    this.acknowledgeNagFindings({ bucket, secret, eventsDlq, functions: { parser, worker, intake, exporter, refresher } });
  }

  /** Every cdk-nag finding this design accepts, each by its exact id and with its reason. */
  private acknowledgeNagFindings(parts: {
    bucket: s3.Bucket;
    secret: secretsmanager.Secret;
    eventsDlq: sqs.Queue;
    functions: Record<'parser' | 'worker' | 'intake' | 'exporter' | 'refresher', lambda.Function>;
  }) {
    const nag = (id: string) => `AwsSolutions::AwsSolutions-${id}`;
    const logicalId = (construct: Construct) => this.getLogicalId(construct.node.defaultChild as CfnElement);
    const bucketArn = `<${logicalId(parts.bucket)}.Arn>`;
    const { parser, worker, intake, exporter, refresher } = parts.functions;

    Validations.of(parts.secret).acknowledge({
      id: nag('SMG4'),
      reason: 'It holds RingCentral JWT app credentials issued in the RingCentral console; the 5-minute RingCX token inside is renewed every 4 minutes by the token refresher.',
    });
    Validations.of(parts.eventsDlq).acknowledge({
      id: nag('SQS3'),
      reason: 'This queue is itself a DLQ: of the reassignment rule target, of the schedules, and of invalid requests the intake sets aside.',
    });

    const basicRole = nag('IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]');
    Validations.of(this).acknowledge({ id: basicRole, reason: 'AWSLambdaBasicExecutionRole only lets each function (and the CDK bucket-notification helper) write its own CloudWatch logs.' });
    for (const f of [parser, worker, intake, exporter, refresher]) {
      Validations.of(f).acknowledge(
        { id: nag('L1'), reason: 'Pinned to nodejs22.x, the runtime this code is built and tested for; runtime upgrades are deliberate changes.' },
        { id: nag('IAM5[Action::kms:GenerateDataKey*]'), reason: 'Data keys of the stack\'s one KMS key, to write its encrypted queues, table, secret and objects.' },
        { id: nag('IAM5[Action::kms:ReEncrypt*]'), reason: 'Re-encryption under the stack\'s one KMS key, which the SQS and Secrets Manager grants require.' },
      );
    }
    for (const f of [parser, worker, exporter]) {
      Validations.of(f).acknowledge({ id: nag('IAM5[Action::s3:Abort*]'), reason: 'Aborting its own multipart uploads of reports and exports when a write fails.' });
    }
    Validations.of(parser).acknowledge(
      { id: nag('IAM5[Action::s3:GetBucket*]'), reason: 'Read grant on the uploads prefixes only; GetBucket* is part of the CDK read grant.' },
      { id: nag('IAM5[Action::s3:GetObject*]'), reason: 'Reads uploaded files (any version) under incoming/ and plan/.' },
      { id: nag('IAM5[Action::s3:List*]'), reason: 'Part of the read grant on incoming/ and plan/.' },
      { id: nag(`IAM5[Resource::${bucketArn}/incoming/*]`), reason: 'Every file uploaded for applying, whatever its name.' },
      { id: nag(`IAM5[Resource::${bucketArn}/plan/*]`), reason: 'Every file uploaded for planning, whatever its name.' },
    );
    for (const f of [parser, worker]) {
      Validations.of(f).acknowledge({ id: nag(`IAM5[Resource::${bucketArn}/results/*]`), reason: 'Writes the reports of any job under results/.' });
    }
    Validations.of(exporter).acknowledge({ id: nag(`IAM5[Resource::${bucketArn}/exports/*]`), reason: 'Writes dated exports, drift reports and manifests under exports/.' });
    for (const f of [exporter, refresher]) {
      Validations.of(this).acknowledge({
        id: nag(`IAM5[Resource::<${logicalId(f)}.Arn>:*]`),
        reason: `EventBridge Scheduler invokes ${f.node.id} by its ARN and version qualifiers.`,
      });
    }
  }
}
