import { join } from 'node:path';
import {
  Aws,
  type CfnElement,
  CfnOutput,
  Duration,
  RemovalPolicy,
  SecretValue,
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
  aws_lambda_destinations as destinations,
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
import { FUNCTION_BUNDLING, ROOT } from './bundling';
import { DETAIL_TYPES, type FunctionName, type Outcome, METRIC_NAMES, METRICS_NAMESPACE, rowsMetricName, SERVICE_NAMES, SYSTEM_EVENT_SOURCE } from '../shared/contracts';
import { JOB_TABLE } from '../shared/store/table';
import { deployedSizing, type StageConfig } from './config';
import { BUDGET_TABLE_ACTIONS, RINGCX_BUDGET_TABLE_NAME } from './budgetStack';
import { CompletionSweeper } from './sweeper';

/** What the secret holds until an operator puts credentials in; the refresher waits quietly on it. */
export const SECRET_PLACEHOLDER = JSON.stringify({ awaitingCredentials: true });

/**
 * DynamoDB actions per function, from the JobStore calls on each function's code path (a
 * transaction needs the action of each of its items). test/infra/tableActions.test.ts reads the
 * code paths and fails when a function sends a command missing here, or is granted one it never sends.
 */
export const TABLE_ACTIONS = {
  // claimJob (transaction of Puts, with the sweeper's open-list item), releaseJob/finishParsing/failJob/tryStartReport/
  // finishReport (Update), getJob (Get), rows (Query), putRejected (BatchWrite), closeJobIfSettled (ConditionCheck + Delete)
  parser: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem'],
  // existingOutcomes and intents (BatchGet), recordOutcomes (transaction of conditional Puts and Updates), intents (Put),
  // recordLastAttempts (BatchWrite), reports (Query), closeJobIfSettled (ConditionCheck + Delete);
  // reassignments: getRequest (Get), recordRequestResult (transaction of Puts and an Update), markAnswerSent (Update + Delete)
  worker: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:BatchWriteItem', 'dynamodb:ConditionCheckItem', 'dynamodb:DeleteItem'],
  // getLedgerEntries (BatchGet), ledger (Query); its checkpoint: beginExport (transaction of Puts), getExportCheckpoint (Get),
  // claimExportStep/commitExportStep (Update)
  exporter: ['dynamodb:BatchGetItem', 'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  // acquireLease (Put), releaseLease (Update)
  refresher: ['dynamodb:PutItem', 'dynamodb:UpdateItem'],
  // openItems/lastAttempts/rows (Query), getJob/getRequest (Get), settles rows (transaction), re-parses a file
  // (claimJob, putRejected), re-sends owed events and answers, closes and forgets open-list items (Delete), its lease (Put, Update)
  sweeper: [
    'dynamodb:GetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:Query',
    'dynamodb:BatchGetItem',
    'dynamodb:BatchWriteItem',
    'dynamodb:ConditionCheckItem',
    'dynamodb:DeleteItem',
  ],
} as const;

export { SYSTEM_EVENT_SOURCE };
const READ_ONLY_TABLE_ACTIONS = new Set(['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:BatchGetItem', 'dynamodb:ConditionCheckItem']);
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

export interface DnisSyncStackProps extends StackProps {
  config: StageConfig;
  /** The account-wide RingCX budget table (infra/budgetStack.ts), which this stack only uses. */
  budgetTableName?: string;
}


/**
 * dnis-sync in one stack: bucket → parser → work queue → worker → RingCX, the priority queue fed
 * by reassignment events, the scheduled exporter and token refresher, and their alarms.
 */
export class DnisSyncStack extends Stack {
  /**
   * For constructs that add functions to this stack (infra/sweeper.ts): grant DynamoDB actions
   * with the key, make a Scheduler role that may write the encrypted DLQ, and where a failed
   * asynchronous invocation, a schedule's failed delivery and an alarm go.
   */
  readonly grantTable!: (grantee: lambda.IFunction, actions: readonly string[]) => void;
  readonly schedulerRole!: (id: string) => iam.Role;
  readonly scheduleGroup!: scheduler.ScheduleGroup;
  readonly failedInvocations!: sqs.Queue;
  readonly eventsDlq!: sqs.Queue;
  readonly alarmAction!: cwActions.SnsAction;

  constructor(scope: Construct, id: string, props: DnisSyncStackProps) {
    super(scope, id, props);
    const { config } = props;
    const sizing = deployedSizing(config);
    const prod = config.stage === 'prod';
    // Prod keeps its data (and the key that reads it) when the stack is deleted; dev cleans up.
    const dataRemoval = prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    for (const arn of config.reassignmentSenders) {
      if (!ROLE_ARN.test(arn)) throw new Error(`reassignmentSenders: "${arn}" is not an IAM role ARN (arn:aws:iam::<account>:role/<name>)`);
    }
    if (config.alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(config.alarmEmail)) {
      throw new Error(`alarmEmail: "${config.alarmEmail}" is not an email address`);
    }
    if (config.eventSources.includes(SYSTEM_EVENT_SOURCE)) {
      throw new Error(`eventSources: "${SYSTEM_EVENT_SOURCE}" is this system's own source; requests need a source of their own`);
    }
    const busName = `dnis-sync-${config.stage}`;

    const key = new kms.Key(this, 'Key', {
      description: 'dnis-sync: queues, table, secret, topic and logs',
      enableKeyRotation: true,
      removalPolicy: dataRemoval,
    });
    this.admitServicesToKey(key, busName);

    // ---- storage ----
    const accessLogs = new s3.Bucket(this, 'AccessLogs', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      versioned: true,
      lifecycleRules: [{ expiration: Duration.days(365), noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: dataRemoval,
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
      removalPolicy: dataRemoval,
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
      removalPolicy: dataRemoval,
    });

    const budgetTable = dynamodb.TableV2.fromTableName(this, 'RingCxBudget', props.budgetTableName ?? RINGCX_BUDGET_TABLE_NAME);

    // The template carries no credential, only a placeholder the refresher recognises (it waits
    // quietly instead of failing every run) until the operator puts the RingCX JSON in (README,
    // "Deployment"). The literal never changes, so a stack update never overwrites a credential.
    const secret = new secretsmanager.Secret(this, 'RingCxSecret', {
      description: 'RingCX credentials for dnis-sync: {"clientId","clientSecret","jwt"} or {"apiToken"}',
      encryptionKey: key,
      secretStringValue: SecretValue.unsafePlainText(SECRET_PLACEHOLDER),
      removalPolicy: dataRemoval,
    });

    // ---- queues ----
    const queue = (name: string, visibility: Duration, dlq?: sqs.IQueue) =>
      new sqs.Queue(this, name, {
        encryption: sqs.QueueEncryption.KMS,
        encryptionMasterKey: key,
        enforceSSL: true,
        visibilityTimeout: visibility,
        retentionPeriod: Duration.days(dlq ? 4 : 14),
        removalPolicy: dataRemoval,
        ...(dlq ? { deadLetterQueue: { queue: dlq, maxReceiveCount: config.maxReceiveCount } } : {}),
      });
    // AWS: visibility at least 6× the function timeout, so throttled batches are retried, not dropped.
    const workerVisibility = Duration.seconds(config.worker.timeoutSeconds * 6);
    const workDlq = queue('WorkDlq', Duration.seconds(30));
    const bulkDlq = queue('BulkDlq', Duration.seconds(30));
    const priorityDlq = queue('PriorityDlq', Duration.seconds(30));
    const eventsDlq = queue('EventsDlq', Duration.seconds(30));
    // Invocation records of asynchronous invocations that failed after Lambda's retries (parser,
    // intake, exporter, refresher): without it such an event would be gone.
    const failedInvocations = queue('FailedInvocations', Duration.seconds(30));
    const workQueue = queue('WorkQueue', workerVisibility, workDlq);
    // Cheap rows (plain creates and assignments) in large batches; the same visibility as the work
    // queue, so the sweeper's one visibility timeout holds for every row message.
    const bulkQueue = queue('BulkQueue', workerVisibility, bulkDlq);
    const priorityQueue = queue('PriorityQueue', workerVisibility, priorityDlq);

    // ---- events ----
    const bus = new events.EventBus(this, 'Bus', { eventBusName: busName });
    this.restrictReassignmentSenders(bus, config);

    // ---- functions ----
    const topic = new sns.Topic(this, 'Alarms', { masterKey: key, enforceSSL: true, displayName: `dnis-sync ${config.stage} alarms` });
    if (config.alarmEmail) topic.addSubscription(new subscriptions.EmailSubscription(config.alarmEmail));
    const alarmAction = new cwActions.SnsAction(topic);

    const commonEnv: Record<string, string> = {
      NODE_OPTIONS: '--enable-source-maps',
      POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
      POWERTOOLS_LOG_LEVEL: prod ? 'INFO' : 'DEBUG',
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      RINGCX_BASE_URL: config.ringcxBaseUrl,
      RINGCENTRAL_BASE_URL: config.ringCentralBaseUrl,
      RINGCX_SECRET_ID: secret.secretArn,
      RINGCX_SELF_LOGIN: 'false',
      // One budget for the tenant: every function's RingCX calls, logins included, take from it.
      RINGCX_BUDGET_TABLE: budgetTable.tableName,
      RINGCX_REQUESTS_PER_WINDOW: String(sizing.ringcx.requestsPerMinute),
      RINGCX_WINDOW_MS: '60000',
      RINGCX_BUDGET_HEADROOM: String(sizing.ringcx.headroom),
      RINGCX_EXPORT_MIN_SHARE: String(sizing.ringcx.exportMinimumShare),
      TABLE_NAME: table.tableName,
      BUCKET_NAME: bucket.bucketName,
      WORK_QUEUE_URL: workQueue.queueUrl,
      BULK_QUEUE_URL: bulkQueue.queueUrl,
      PRIORITY_QUEUE_URL: priorityQueue.queueUrl,
      EVENTS_DLQ_URL: eventsDlq.queueUrl,
      EVENT_BUS_NAME: bus.eventBusName,
      EVENT_SOURCE: SYSTEM_EVENT_SOURCE,
      EVENT_SOURCES: config.eventSources.join(','),
      MAX_RECEIVE_COUNT: String(config.maxReceiveCount),
      MAX_FILE_BYTES: String(config.parser.maxFileMb * 1024 * 1024),
      MAX_ROWS: String(config.parser.maxRows),
      JOB_RETENTION_DAYS: String(config.retention.jobDays),
      ...(config.defaultAccountId ? { RINGCX_DEFAULT_ACCOUNT_ID: config.defaultAccountId } : {}),
      ...(config.auditRetentionDays ? { AUDIT_RETENTION_DAYS: String(config.auditRetentionDays) } : {}),
      ...(config.accountIds ? { RINGCX_ACCOUNT_IDS: config.accountIds.join(',') } : {}),
      ...(config.maintenanceWindow ? { MAINTENANCE_WINDOW: config.maintenanceWindow } : {}),
    };

    const fn = (
      name: string,
      service: FunctionName,
      entry: string,
      options: {
        timeoutSeconds: number;
        memoryMb: number;
        env?: Record<string, string>;
        ephemeralStorageGb?: number;
        reservedConcurrency?: number;
        /** Lambda's own retries of an asynchronous invocation before it goes to `failedInvocations`. */
        asyncRetries?: number;
      },
    ) => {
      const logGroup = new logs.LogGroup(this, `${name}Logs`, {
        retention: config.retention.logDays as logs.RetentionDays,
        encryptionKey: key,
        removalPolicy: dataRemoval,
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
        environment: { ...commonEnv, POWERTOOLS_SERVICE_NAME: SERVICE_NAMES[service], ...options.env },
        ...FUNCTION_BUNDLING,
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
      if (options.asyncRetries !== undefined) {
        f.configureAsyncInvoke({ onFailure: new destinations.SqsDestination(failedInvocations), retryAttempts: options.asyncRetries, maxEventAge: Duration.hours(6) });
        new cloudwatch.Alarm(this, `${name}AsyncEventsDropped`, {
          metric: f.metric('AsyncEventsDropped', { statistic: 'Sum', period: Duration.minutes(5) }),
          threshold: 1,
          evaluationPeriods: 1,
          alarmDescription: `${name}: asynchronous events were dropped without reaching the failed-invocations queue`,
          treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
        }).addAlarmAction(alarmAction);
      }
      return f;
    };

    const parser = fn('Parser', 'parser', 'functions/parser/app.ts', {
      timeoutSeconds: config.parser.timeoutSeconds,
      memoryMb: config.parser.memoryMb,
      ephemeralStorageGb: config.parser.ephemeralStorageGb,
      asyncRetries: 2,
    });
    const worker = fn('Worker', 'worker', 'functions/worker/app.ts', {
      timeoutSeconds: config.worker.timeoutSeconds,
      memoryMb: config.worker.memoryMb,
      // Every queue's instances at once (work, bulk, priority); they share the tenant's budget, whatever their number.
      reservedConcurrency: sizing.worker.instances,
      env: { RINGCX_BUDGET_PRIORITY: 'import' },
    });
    const intake = fn('ReassignIntake', 'intake', 'functions/reassign-intake/app.ts', { timeoutSeconds: 30, memoryMb: 256, asyncRetries: 2 });
    const exporter = fn('Exporter', 'exporter', 'functions/exporter/app.ts', {
      timeoutSeconds: config.exporter.timeoutSeconds,
      memoryMb: config.exporter.memoryMb,
      reservedConcurrency: 1,
      env: { RINGCX_BUDGET_PRIORITY: 'export', EXPORT_PAGE_SIZE: String(config.exporter.pageSize) },
      // One more full export at most: each run spends RingCX budget for up to 15 minutes.
      asyncRetries: 1,
    });
    // An export longer than one invocation continues from this queue (shared/exporter/continuation.ts):
    // a queue, not an asynchronous self-invoke, because Lambda drops asynchronous events after
    // failures, while a message stays until a step is done or it reaches the DLQ. Batches of one;
    // maxConcurrency 2 is the least Lambda allows, and the exporter's reserved concurrency of 1
    // keeps it to one invocation at a time (the checkpoint's claim guards the rest).
    const exportsDlq = queue('ExportsDlq', Duration.seconds(30));
    const exportsQueue = queue('ExportsQueue', Duration.seconds(config.exporter.timeoutSeconds * 6), exportsDlq);
    exporter.addEnvironment('EXPORT_QUEUE_URL', exportsQueue.queueUrl);
    exportsQueue.grantSendMessages(exporter);
    exporter.addEventSource(new sources.SqsEventSource(exportsQueue, { batchSize: 1, maxConcurrency: 2, reportBatchItemFailures: true }));
    // Its checkpoint's state objects and, at the end, the finished file it hashes.
    exporter.addToRolePolicy(new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [bucket.arnForObjects('exports/*')] }));
    new cloudwatch.Alarm(this, 'ExportsDlqDepth', {
      metric: exportsDlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
      threshold: 1,
      evaluationPeriods: 1,
      alarmDescription: 'ExportsDlq has messages: an export stopped continuing (README, "Scheduled export")',
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    }).addAlarmAction(alarmAction);
    Validations.of(exportsDlq).acknowledge({ id: 'AwsSolutions::AwsSolutions-SQS3', reason: 'This queue is itself a DLQ: of the exports queue.' });
    // The next scheduled run comes within minutes; a retry would only race it for the lease.
    const refresher = fn('TokenRefresher', 'refresher', 'functions/token-refresher/app.ts', { timeoutSeconds: 60, memoryMb: 256, reservedConcurrency: 1, asyncRetries: 0, env: { RINGCX_BUDGET_PRIORITY: 'auth' } });

    // ---- wiring and least privilege ----
    // approved/<planId>.json starts the apply of a saved plan (shared/parser/applyPlan.ts).
    for (const prefix of ['incoming/', 'plan/', 'approved/']) {
      bucket.addEventNotification(s3.EventType.OBJECT_CREATED, new s3n.LambdaDestination(parser), { prefix });
    }
    bucket.grantRead(parser, 'incoming/*');
    bucket.grantRead(parser, 'plan/*');
    bucket.grantRead(parser, 'approved/*');
    // An approval's apply reads the saved plan it names.
    bucket.grantRead(parser, 'results/*/plan.json');
    for (const f of [parser, worker]) bucket.grantPut(f, 'results/*');
    bucket.grantPut(exporter, 'exports/*');
    // Row messages go to the queue of their cost class.
    workQueue.grantSendMessages(parser);
    bulkQueue.grantSendMessages(parser);
    // Rows a worker could not start before its deadline go back on their queue as fresh messages.
    workQueue.grantSendMessages(worker);
    bulkQueue.grantSendMessages(worker);
    priorityQueue.grantSendMessages(intake);
    // A held reassignment goes back on the priority queue with a delay.
    priorityQueue.grantSendMessages(worker);
    eventsDlq.grantSendMessages(intake);
    const grantTable = (f: lambda.IFunction, actions: readonly string[]) => {
      table.grant(f, ...actions.filter((action) => action !== 'dynamodb:DeleteItem'));
      // Deletes only take items off the sweeper's list; jobs, ledger and audit entries are never deleted by code.
      if (actions.includes('dynamodb:DeleteItem')) {
        f.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['dynamodb:DeleteItem'],
            resources: [table.tableArn],
            conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [JOB_TABLE.openListPartition] } },
          }),
        );
      }
      // TableV2.grant leaves the key out; DynamoDB calls KMS with the caller's permissions.
      const writes = actions.some((action) => !READ_ONLY_TABLE_ACTIONS.has(action));
      key.grant(f, 'kms:Decrypt', 'kms:DescribeKey', ...(writes ? ['kms:Encrypt', 'kms:GenerateDataKey*'] : []));
    };
    grantTable(parser, TABLE_ACTIONS.parser);
    grantTable(worker, TABLE_ACTIONS.worker);
    grantTable(exporter, TABLE_ACTIONS.exporter);
    grantTable(refresher, TABLE_ACTIONS.refresher);
    // The functions that call RingCX (the refresher only to log in) take from the shared budget.
    for (const f of [worker, exporter, refresher]) budgetTable.grant(f, ...BUDGET_TABLE_ACTIONS);
    for (const f of [worker, exporter]) secret.grantRead(f);
    // Exactly the refresher's calls (shared/tokens/refreshToken.ts), a compare-and-set: it puts its value
    // as AWSPENDING, then UpdateSecretVersionStage moves AWSCURRENT to it only off the version this
    // attempt read, so an operator's write made meanwhile is never overwritten. Never UpdateSecret:
    // the secret's settings are not the refresher's to change.
    refresher.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['secretsmanager:GetSecretValue', 'secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
        resources: [secret.secretArn],
      }),
    );
    key.grant(new kms.ViaServicePrincipal(`secretsmanager.${this.region}.amazonaws.com`, refresher.grantPrincipal), 'kms:Decrypt', 'kms:Encrypt', 'kms:GenerateDataKey*');
    for (const f of [parser, worker, exporter, intake]) bus.grantPutEventsTo(f);

    worker.addEventSource(
      new sources.SqsEventSource(workQueue, {
        batchSize: config.worker.batchSize,
        maxBatchingWindow: Duration.seconds(config.worker.batchWindowSeconds),
        maxConcurrency: config.worker.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );
    // The same worker, with batches as large as one invocation's payload takes (infra/config.ts, BULK_QUEUE).
    worker.addEventSource(
      new sources.SqsEventSource(bulkQueue, {
        batchSize: config.bulk.batchSize,
        maxBatchingWindow: Duration.seconds(config.bulk.batchWindowSeconds),
        maxConcurrency: config.bulk.maxConcurrency,
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

    const reassignmentRule = new events.Rule(this, 'ReassignmentRule', {
      eventBus: bus,
      description: 'Reassignment requests from trusted senders only',
      eventPattern: { detailType: [DETAIL_TYPES.reassignmentRequested], source: config.eventSources },
      targets: [new eventTargets.LambdaFunction(intake, { deadLetterQueue: eventsDlq, retryAttempts: 8, maxEventAge: Duration.hours(24) })],
    });

    // A group of our own, so Scheduler's metrics (published per group) cover exactly these schedules.
    const scheduleGroup = new scheduler.ScheduleGroup(this, 'Schedules', { scheduleGroupName: `dnis-sync-${config.stage}`, removalPolicy: RemovalPolicy.DESTROY });
    const schedulerDlq = eventsDlq;
    const schedulerRole = (id: string) => {
      const role = new iam.Role(this, id, {
        assumedBy: new iam.ServicePrincipal('scheduler.amazonaws.com', {
          conditions: { StringEquals: { 'aws:SourceAccount': this.account, 'aws:SourceArn': scheduleGroup.scheduleGroupArn } },
        }),
      });
      // The DLQ is encrypted with the stack key, and Scheduler writes to it as this role.
      key.grant(role, 'kms:GenerateDataKey', 'kms:Decrypt');
      return role;
    };
    new scheduler.Schedule(this, 'ExportSchedule', {
      description: 'Daily export with drift report',
      scheduleGroup,
      schedule: scheduler.ScheduleExpression.expression(`cron(${config.exporter.cron})`, TimeZone.of(config.exporter.timeZone)),
      target: new schedulerTargets.LambdaInvoke(exporter, {
        role: schedulerRole('ExportSchedulerRole'),
        deadLetterQueue: schedulerDlq,
        retryAttempts: 2,
        maxEventAge: Duration.hours(1),
        // The tick's time names the export, so a retried tick resumes it rather than starting a second.
        input: scheduler.ScheduleTargetInput.fromObject({ scheduledTime: scheduler.ContextAttribute.scheduledTime }),
      }),
    });
    new scheduler.Schedule(this, 'RefreshSchedule', {
      description: 'Keeps the RingCX token in the secret fresh (tokens live 5 minutes)',
      scheduleGroup,
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(config.refresherEveryMinutes)),
      target: new schedulerTargets.LambdaInvoke(refresher, {
        role: schedulerRole('RefreshSchedulerRole'),
        deadLetterQueue: schedulerDlq,
        retryAttempts: 1,
        maxEventAge: Duration.minutes(config.refresherEveryMinutes),
      }),
    });

    // The exporter says "DNIS Export Incomplete" on the bus; the rule mails the event itself (which
    // accounts, why) to the alarm topic and its metric raises an alarm.
    const exportIncompleteRule = new events.Rule(this, 'ExportIncompleteRule', {
      eventBus: bus,
      description: 'The export could not cover every account',
      eventPattern: { detailType: [DETAIL_TYPES.exportIncomplete], source: [SYSTEM_EVENT_SOURCE] },
      // As a role of its own, so the key policy needs no unconditioned statement for EventBridge.
      targets: [new eventTargets.SnsTopic(topic, { authorizeUsingRole: true, deadLetterQueue: eventsDlq, retryAttempts: 8, maxEventAge: Duration.hours(24) })],
    });

    // Before the sweeper, which adds its function with these.
    Object.assign(this, { grantTable, schedulerRole, scheduleGroup, failedInvocations, eventsDlq, alarmAction });
    new CompletionSweeper(this, 'Sweeper', { config, stack: this, tableActions: TABLE_ACTIONS.sweeper, environment: commonEnv, key, bucket, workQueue, bulkQueue, bus });

    // ---- alarms and dashboard ----
    for (const [name, dlq] of [['WorkDlq', workDlq], ['BulkDlq', bulkDlq], ['PriorityDlq', priorityDlq], ['EventsDlq', eventsDlq], ['FailedInvocations', failedInvocations]] as const) {
      const alarm = new cloudwatch.Alarm(this, `${name}Depth`, {
        metric: dlq.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1) }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `${name} has messages: rows, requests or invocations that need a person (README, "Deployment")`,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(alarmAction);
      alarm.addOkAction(alarmAction);
    }
    for (const [name, q] of [['WorkQueue', workQueue], ['BulkQueue', bulkQueue], ['PriorityQueue', priorityQueue]] as const) {
      new cloudwatch.Alarm(this, `${name}OldestMessage`, {
        metric: q.metricApproximateAgeOfOldestMessage({ period: Duration.minutes(5) }),
        threshold: name === 'PriorityQueue' ? 900 : config.oldestMessageAlarmSeconds,
        evaluationPeriods: 3,
        alarmDescription: `${name}: the oldest message has waited too long; workers may be stuck or starved of RingCX budget`,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }).addAlarmAction(alarmAction);
    }
    const alarm = (id: string, metric: cloudwatch.IMetric, description: string, threshold = 1, evaluationPeriods = 1) =>
      new cloudwatch.Alarm(this, id, { metric, threshold, evaluationPeriods, alarmDescription: description, treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING }).addAlarmAction(alarmAction);
    const ruleMetric = (rule: events.Rule, metricName: string) =>
      new cloudwatch.Metric({ namespace: 'AWS/Events', metricName, dimensionsMap: { EventBusName: bus.eventBusName, RuleName: rule.ruleName }, statistic: 'Sum', period: Duration.minutes(5) });
    alarm('ReassignmentRuleFailedInvocations', ruleMetric(reassignmentRule, 'FailedInvocations'), 'The reassignment rule could not deliver requests to the intake (they are in the events DLQ, or lost)');
    alarm('ReassignmentRuleDlqFailures', ruleMetric(reassignmentRule, 'InvocationsFailedToBeSentToDlq'), 'Reassignment requests the rule could neither deliver nor put in the events DLQ: lost');
    alarm('ExportIncomplete', ruleMetric(exportIncompleteRule, 'TriggeredRules'), `${DETAIL_TYPES.exportIncomplete}: the export did not cover every account (the event was mailed to this topic)`);
    const scheduleMetric = (metric: cloudwatch.Metric) => metric.with({ statistic: 'Sum', period: Duration.minutes(5) });
    alarm('ScheduleTargetErrors', scheduleMetric(scheduleGroup.metricTargetErrors()), 'Scheduler could not invoke the exporter, the refresher or the sweeper (failed invocations go to the events DLQ)');
    alarm('ScheduleInvocationsDropped', scheduleMetric(scheduleGroup.metricDropped()), 'Scheduler gave up on a scheduled invocation after its retries');
    alarm('ScheduleDlqFailures', scheduleMetric(scheduleGroup.metricFailedToBeSentToDLQ()), 'Scheduler could neither invoke a target nor put the event in the events DLQ');
    const ringcx = (service: FunctionName, metricName: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: SERVICE_NAMES[service] }, statistic: 'Sum', period: Duration.minutes(5) });
    alarm(
      'RingCx429Rate',
      new cloudwatch.MathExpression({
        // Each process paces itself under its share, so 429s mean the budget is shared with someone else.
        expression: 'IF(calls > 0, 100 * limited / calls, 0)',
        usingMetrics: {
          calls: new cloudwatch.MathExpression({ expression: 'FILL(workerCalls, 0) + FILL(exporterCalls, 0)', usingMetrics: { workerCalls: ringcx('worker', METRIC_NAMES.ringCxCalls), exporterCalls: ringcx('exporter', METRIC_NAMES.ringCxCalls) } }),
          limited: new cloudwatch.MathExpression({ expression: 'FILL(worker429, 0) + FILL(exporter429, 0)', usingMetrics: { worker429: ringcx('worker', METRIC_NAMES.ringCx429), exporter429: ringcx('exporter', METRIC_NAMES.ringCx429) } }),
        },
        label: 'RingCX 429 rate (%)',
        period: Duration.minutes(5),
      }),
      'More than 5% of RingCX calls answered 429 for 10 minutes: another client shares the budget, or the pacing is off',
      5,
      2,
    );

    const dashboard = new cloudwatch.Dashboard(this, 'Dashboard', { dashboardName: `dnis-sync-${config.stage}` });
    const rows = (outcome: Outcome, service: FunctionName = 'worker') =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName: rowsMetricName(outcome), dimensionsMap: { service: SERVICE_NAMES[service] }, statistic: 'Sum', period: Duration.minutes(5), label: outcome });
    dashboard.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'Rows by outcome',
        left: [
          ...(['created', 'updated', 'assigned', 'reassigned', 'unassigned', 'unchanged', 'skipped', 'conflict', 'failed', 'rejected'] as const).map((outcome) => rows(outcome)),
          // The parser rejects invalid rows before they reach a worker.
          rows('rejected', 'parser'),
        ],
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'RingCX calls, 429s and retries',
        left: [METRIC_NAMES.ringCxCalls, METRIC_NAMES.ringCx429, METRIC_NAMES.ringCxRetries].map((metricName) => new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: SERVICE_NAMES.worker }, statistic: 'Sum', period: Duration.minutes(1) })),
        width: 12,
      }),
      new cloudwatch.GraphWidget({
        title: 'Queue depth',
        left: [workQueue, bulkQueue, priorityQueue, workDlq, bulkDlq].map((q) => q.metricApproximateNumberOfMessagesVisible()),
        width: 12,
      }),
      new cloudwatch.GraphWidget({ title: 'Worker errors and throttles', left: [worker.metricErrors(), worker.metricThrottles(), parser.metricErrors()], width: 12 }),
    );

    // Names the README's runbook uses: redrive, on-demand runs, credentials.
    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    output('BucketName', bucket.bucketName, 'Upload files under incoming/ or plan/');
    output('SecretArn', secret.secretArn, 'Put the RingCX credentials here');
    output('EventBusName', bus.eventBusName, 'Reassignment requests go here');
    output('AlarmTopicArn', topic.topicArn, 'Alarms; subscribe with alarmEmail');
    output('Region', Aws.REGION, 'Where the stack runs');
    output('WorkQueueArn', workQueue.queueArn, 'Redrive destination of the work DLQ');
    output('BulkQueueArn', bulkQueue.queueArn, 'Redrive destination of the bulk DLQ');
    output('PriorityQueueArn', priorityQueue.queueArn, 'Redrive destination of the priority DLQ');
    for (const [id, q] of [['WorkDlq', workDlq], ['BulkDlq', bulkDlq], ['PriorityDlq', priorityDlq], ['EventsDlq', eventsDlq], ['FailedInvocations', failedInvocations]] as const) {
      output(`${id}Arn`, q.queueArn, `${id}: source of a redrive`);
      output(`${id}Url`, q.queueUrl, `${id}: to read its messages`);
    }
    output('ParserFunctionName', parser.functionName, 'Re-run a failed S3 event');
    output('ExporterFunctionName', exporter.functionName, 'Run the export on demand');
    output('TokenRefresherFunctionName', refresher.functionName, 'Refresh the RingCX token on demand');
    output('ReassignIntakeFunctionName', intake.functionName, 'Re-run a failed reassignment request');

    Validations.of(exportIncompleteRule).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Action::kms:GenerateDataKey*]',
      reason: 'Data keys of the stack\'s one KMS key, to publish to the encrypted alarm topic.',
    });

    this.acknowledgeNagFindings({ bucket, secret, eventsDlq, failedInvocations, functions: { parser, worker, intake, exporter, refresher } });
  }

  /**
   * The key policy for every AWS service that writes with the stack key itself, not as one of our
   * roles (roles get their key actions from their own grants): CloudWatch Logs for the log groups,
   * CloudWatch alarms and EventBridge for the topic, and EventBridge rules for the events DLQ.
   * Each is scoped to this account and, where the service says which resource it acts for, to ours.
   */
  private admitServicesToKey(key: kms.Key, busName: string) {
    const { account, region, partition } = Stack.of(this);
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchLogsForThisAccountsLogGroups',
        principals: [new iam.ServicePrincipal(`logs.${region}.amazonaws.com`)],
        actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
        resources: ['*'],
        conditions: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': `arn:${partition}:logs:${region}:${account}:log-group:*` } },
      }),
    );
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsToTheAlarmTopic',
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': account }, ArnLike: { 'aws:SourceArn': `arn:${partition}:cloudwatch:${region}:${account}:alarm:*` } },
      }),
    );
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'EventBridgeRulesOfThisBus',
        principals: [new iam.ServicePrincipal('events.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        // A pattern, not the rules' ARNs: the rules depend on queues that depend on this key.
        conditions: { StringEquals: { 'aws:SourceAccount': account }, ArnLike: { 'aws:SourceArn': `arn:${partition}:events:${region}:${account}:rule/${busName}/*` } },
      }),
    );
  }

  /**
   * Reassignment requests may come only from the role ARNs in the stage config. IAM alone would let
   * any principal of this account with events:PutEvents send them, so the bus denies the request
   * sources to everyone else, and admits the named roles (of any account) for those sources only.
   */
  private restrictReassignmentSenders(bus: events.EventBus, config: StageConfig) {
    const senders = config.reassignmentSenders;
    const requestSources = { 'events:source': config.eventSources };
    bus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'RequestSourcesOnlyFromConfiguredSenders',
        effect: iam.Effect.DENY,
        principals: [new iam.AnyPrincipal()],
        actions: ['events:PutEvents'],
        resources: [bus.eventBusArn],
        conditions: {
          'ForAnyValue:StringEquals': requestSources,
          ...(senders.length > 0 ? { ArnNotEquals: { 'aws:PrincipalArn': senders } } : {}),
        },
      }),
    );
    if (senders.length === 0) return;
    bus.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'ConfiguredSendersWithRequestSources',
        principals: senders.map((arn) => new iam.ArnPrincipal(arn)),
        actions: ['events:PutEvents'],
        resources: [bus.eventBusArn],
        conditions: { 'ForAllValues:StringEquals': requestSources },
      }),
    );
  }

  /** Every cdk-nag finding this design accepts, each by its exact id and with its reason. */
  private acknowledgeNagFindings(parts: {
    bucket: s3.Bucket;
    secret: secretsmanager.Secret;
    eventsDlq: sqs.Queue;
    failedInvocations: sqs.Queue;
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
    Validations.of(parts.failedInvocations).acknowledge({
      id: nag('SQS3'),
      reason: 'This queue is itself a DLQ: the on-failure destination of every asynchronously invoked function.',
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
      { id: nag(`IAM5[Resource::${bucketArn}/approved/*]`), reason: 'Every plan approval, named after its plan id.' },
      { id: nag(`IAM5[Resource::${bucketArn}/results/*/plan.json]`), reason: 'The saved plans an approval names, one per plan run.' },
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
