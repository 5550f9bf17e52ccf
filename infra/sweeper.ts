import { join } from 'node:path';
import {
  type CfnElement,
  Duration,
  RemovalPolicy,
  Size,
  Stack,
  Validations,
  aws_cloudwatch as cloudwatch,
  type aws_events as events,
  type aws_kms as kms,
  aws_lambda as lambda,
  aws_lambda_destinations as destinations,
  aws_lambda_nodejs as nodejs,
  aws_logs as logs,
  type aws_s3 as s3,
  aws_scheduler as scheduler,
  aws_scheduler_targets as schedulerTargets,
  type aws_sqs as sqs,
} from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { DETAIL_TYPES, METRIC_NAMES, METRICS_NAMESPACE, SERVICE_NAMES } from '../shared/contracts';
import { FUNCTION_BUNDLING, ROOT } from './bundling';
import { SWEEP_EVERY_MINUTES, type StageConfig } from './config';
import type { DnisSyncStack } from './stack';

export interface CompletionSweeperProps {
  config: StageConfig;
  /** The stack's helpers for an added function: table grant, scheduler role and group, failure queues, alarm action. */
  stack: Pick<DnisSyncStack, 'grantTable' | 'schedulerRole' | 'scheduleGroup' | 'failedInvocations' | 'eventsDlq' | 'alarmAction'>;
  /** Exactly the DynamoDB actions the sweeper's code path sends (TABLE_ACTIONS.sweeper). */
  tableActions: readonly string[];
  /** The environment every function shares (table, bucket, queues, bus, limits). */
  environment: Record<string, string>;
  key: kms.IKey;
  bucket: s3.IBucket;
  workQueue: sqs.IQueue;
  bulkQueue: sqs.IQueue;
  bus: events.IEventBus;
  /** How often the sweeper runs; part of the completion bound stated in the README. */
  everyMinutes?: number;
  /** Age of an unfinished job that pages someone, whatever its rows say. */
  jobAgeAlarmHours?: number;
}

const SERVICE = SERVICE_NAMES.sweeper;

/**
 * The completion guarantee's scheduled half: a function on an EventBridge Scheduler rate that
 * settles rows whose last delivery died, completes jobs, re-sends owed events and answers,
 * re-parses a parse that died, and reports stalls; with alarms on stalled jobs and on job age.
 * It can re-parse a file, so it gets the parser's memory, disk and timeout.
 */
export class CompletionSweeper extends Construct {
  readonly function: lambda.Function;

  constructor(scope: Construct, id: string, props: CompletionSweeperProps) {
    super(scope, id);
    const { config, stack } = props;
    const everyMinutes = props.everyMinutes ?? SWEEP_EVERY_MINUTES;
    const prod = config.stage === 'prod';

    const logGroup = new logs.LogGroup(this, 'Logs', {
      retention: config.retention.logDays as logs.RetentionDays,
      encryptionKey: props.key,
      // Like every log group of the stack: prod keeps what the sweeper did when the stack goes.
      removalPolicy: prod ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const fn = new nodejs.NodejsFunction(this, 'Function', {
      entry: join(ROOT, 'functions/sweeper/app.ts'),
      handler: 'handler',
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: Duration.seconds(config.parser.timeoutSeconds),
      memorySize: config.parser.memoryMb,
      ephemeralStorageSize: Size.gibibytes(config.parser.ephemeralStorageGb),
      reservedConcurrentExecutions: 1,
      logGroup,
      environment: {
        ...props.environment,
        POWERTOOLS_SERVICE_NAME: SERVICE,
        POWERTOOLS_LOG_LEVEL: prod ? 'INFO' : 'DEBUG',
        WORK_VISIBILITY_TIMEOUT_SECONDS: String(config.worker.timeoutSeconds * 6),
        SWEEP_INTERVAL_SECONDS: String(everyMinutes * 60),
        PARSE_LEASE_SECONDS: String(config.parser.timeoutSeconds),
      },
      ...FUNCTION_BUNDLING,
    });
    this.function = fn;

    stack.grantTable(fn, props.tableActions);
    // Re-parsing a file: read the upload, send its rows, write its reports.
    props.bucket.grantRead(fn, 'incoming/*');
    props.bucket.grantRead(fn, 'plan/*');
    props.bucket.grantPut(fn, 'results/*');
    // A re-parse sends each row to the queue of its cost class; a job is only called stalled when
    // no row message is left on either queue.
    for (const rowQueue of [props.workQueue, props.bulkQueue]) {
      rowQueue.grantSendMessages(fn);
      rowQueue.grant(fn, 'sqs:GetQueueAttributes');
    }
    props.bus.grantPutEventsTo(fn);

    new scheduler.Schedule(this, 'Schedule', {
      description: 'Settles rows whose last delivery died, finishes jobs, re-sends owed events, reports stalled jobs',
      scheduleGroup: stack.scheduleGroup,
      schedule: scheduler.ScheduleExpression.rate(Duration.minutes(everyMinutes)),
      target: new schedulerTargets.LambdaInvoke(fn, {
        role: stack.schedulerRole('SweeperSchedulerRole'),
        deadLetterQueue: stack.eventsDlq,
        retryAttempts: 1,
        maxEventAge: Duration.minutes(everyMinutes),
      }),
    });
    // Scheduler invokes asynchronously; the next sweep comes within minutes, so no retry, but a
    // failed invocation is kept and alarmed like every other asynchronous one.
    fn.configureAsyncInvoke({ onFailure: new destinations.SqsDestination(stack.failedInvocations), retryAttempts: 0, maxEventAge: Duration.minutes(everyMinutes) });

    const metric = (metricName: string, statistic: string) =>
      new cloudwatch.Metric({ namespace: METRICS_NAMESPACE, metricName, dimensionsMap: { service: SERVICE }, statistic, period: Duration.minutes(everyMinutes) });
    const alarms = [
      new cloudwatch.Alarm(this, 'StalledJobs', {
        metric: metric(METRIC_NAMES.stalledJobs, 'Maximum'),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: `A job made no progress for longer than the completion bound ("${DETAIL_TYPES.importStalled}"); see README, Redriving`,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'JobAge', {
        metric: metric(METRIC_NAMES.oldestOpenJobAgeSeconds, 'Maximum'),
        threshold: (props.jobAgeAlarmHours ?? 6) * 3600,
        evaluationPeriods: 1,
        alarmDescription: 'An import has been running for longer than any file should take',
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      new cloudwatch.Alarm(this, 'Errors', {
        metric: fn.metricErrors({ period: Duration.minutes(15) }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: 'The sweeper threw: the completion guarantee is not being enforced',
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
      // No invocation for three intervals means no sweeping at all.
      new cloudwatch.Alarm(this, 'NotRunning', {
        metric: fn.metricInvocations({ period: Duration.minutes(everyMinutes * 3) }),
        threshold: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        evaluationPeriods: 1,
        alarmDescription: 'The sweeper has not run for three intervals',
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      }),
      new cloudwatch.Alarm(this, 'AsyncEventsDropped', {
        metric: fn.metric('AsyncEventsDropped', { statistic: 'Sum', period: Duration.minutes(5) }),
        threshold: 1,
        evaluationPeriods: 1,
        alarmDescription: 'sweeper: asynchronous events were dropped without reaching the failed-invocations queue',
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      }),
    ];
    for (const alarm of alarms) alarm.addAlarmAction(stack.alarmAction);

    this.acknowledgeNagFindings(fn, props.bucket);
  }

  private acknowledgeNagFindings(fn: lambda.Function, bucket: s3.IBucket) {
    const nag = (id: string) => `AwsSolutions::AwsSolutions-${id}`;
    const stack = Stack.of(this);
    const logicalId = (construct: Construct) => stack.getLogicalId(construct.node.defaultChild as CfnElement);
    const bucketArn = `<${logicalId(bucket)}.Arn>`;
    Validations.of(fn).acknowledge(
      { id: nag('L1'), reason: 'Pinned to nodejs22.x, the runtime this code is built and tested for; runtime upgrades are deliberate changes.' },
      { id: nag('IAM5[Action::kms:GenerateDataKey*]'), reason: "Data keys of the stack's one KMS key, to write its encrypted queue, table and objects." },
      { id: nag('IAM5[Action::kms:ReEncrypt*]'), reason: "Re-encryption under the stack's one KMS key, which the SQS grant requires." },
      { id: nag('IAM5[Action::s3:Abort*]'), reason: 'Aborting its own multipart uploads of reports when a write fails.' },
      { id: nag('IAM5[Action::s3:GetBucket*]'), reason: 'Read grant on the uploads prefixes only; GetBucket* is part of the CDK read grant.' },
      { id: nag('IAM5[Action::s3:GetObject*]'), reason: 'Re-reads an uploaded file (its exact version) whose parse died.' },
      { id: nag('IAM5[Action::s3:List*]'), reason: 'Part of the read grant on incoming/ and plan/.' },
      { id: nag(`IAM5[Resource::${bucketArn}/incoming/*]`), reason: 'Any file uploaded for applying, whose parse may need re-running.' },
      { id: nag(`IAM5[Resource::${bucketArn}/plan/*]`), reason: 'Any file uploaded for planning, whose parse may need re-running.' },
      { id: nag(`IAM5[Resource::${bucketArn}/results/*]`), reason: 'Writes the reports of any job under results/.' },
    );
    Validations.of(stack).acknowledge({
      id: nag(`IAM5[Resource::<${logicalId(fn)}.Arn>:*]`),
      reason: 'EventBridge Scheduler invokes the sweeper by its ARN and version qualifiers.',
    });
  }
}
