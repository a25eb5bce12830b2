/**
 * Alerts of the feature pipeline, all to one SNS topic: failed / timed-out / aborted executions
 * (EventBridge rule on Step Functions status changes), the success summary (rule on the
 * pipeline's own "ML Features Updated" event), and CloudWatch alarms: one per Spark job on its
 * running time (JobElapsedSeconds, published at every poll, over the job's SLA), on failures, on
 * events left in the triggers' dead-letter queue, and on a day without a successful run.
 *
 * Who may use the topic and its key: CloudWatch (the alarms of this stack, by aws:SourceArn and
 * aws:SourceAccount) through the topic and key policies, and EventBridge through a role of its
 * own that may publish to this topic only, so no service principal is granted the key unconditioned.
 */
import { ArnFormat, Duration, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { SUMMARY_EVENT_DETAIL_TYPE, SUMMARY_EVENT_SOURCE } from '../../lambdas/feature-pipeline/contract';
import { reportKey } from '../../lambdas/report/contract';
import { acknowledge, wildcardActions } from '../common/nag';
import { PIPELINE_METRICS } from './dashboard';
import { TARGET_RETRY } from './triggers';

/** How long the dead-letter queue keeps an undelivered trigger (SQS's longest). */
const DEAD_LETTER_RETENTION = Duration.days(14);

/** Per Spark job of the feature pipeline: job 1 (features) and job 2 (ML features). */
export interface PerJob<T> {
  readonly features: T;
  readonly mlFeatures: T;
}

export interface PipelineAlertsProps {
  readonly stateMachine: sfn.IStateMachine;
  /** @default no subscription (subscribe in the console) */
  readonly email?: string;
  /**
   * Per job, whole seconds of 60 or more: an attempt of the job still running this long after its
   * submission raises the job's alarm, while it runs.
   */
  readonly jobSlaSeconds: PerJob<number>;
  /**
   * How often the job-status step polls (and so publishes JobElapsedSeconds): the alarms' period
   * is at least this, so each period of a running job has a value. @default 60 seconds
   */
  readonly jobPollInterval?: Duration;
  /** The bus the pipeline publishes "ML Features Updated" on. @default the account's default bus */
  readonly eventBus?: events.IEventBus;
  /**
   * Raise an alarm when no run of the pipeline succeeded for this long (set it when a schedule
   * runs the pipeline daily). Whole hours, 1 to 168. @default no such alarm
   */
  readonly expectSuccessWithin?: Duration;
  /**
   * The bucket of the report pages (`reports/<id>.html`): a failure mail then names the page the
   * failure path wrote. @default the mails name no page
   */
  readonly reports?: s3.IBucket;
}

/** Where a failed execution's page is, from its name (an EventField of the status-change event). */
export type FailurePageKey = (executionName: string) => string;

export class PipelineAlerts extends Construct {
  readonly topic: sns.Topic;
  readonly failureRule: events.Rule;
  readonly successRule: events.Rule;
  /** Raised while an attempt of the job runs longer than its SLA. */
  readonly jobSlaAlarms: PerJob<cloudwatch.Alarm>;
  readonly failureAlarm: cloudwatch.Alarm;
  /** Every alarm that notifies the topic, in the order notify() was called (the dashboard shows them). */
  readonly alarms: cloudwatch.Alarm[] = [];
  /** Where every schedule and rule target of the stack puts the events it could not deliver. */
  readonly deadLetterQueue: sqs.Queue;
  /** Raised while the dead-letter queue holds a message. */
  readonly deadLetterAlarm: cloudwatch.Alarm;
  /** Raised when no run succeeded within expectSuccessWithin; undefined without it. */
  readonly noSuccessAlarm?: cloudwatch.Alarm;
  /** The role EventBridge publishes to the topic with. */
  private readonly publisher: iam.Role;
  private readonly reports?: s3.IBucket;

  constructor(scope: Construct, id: string, props: PipelineAlertsProps) {
    super(scope, id);
    PipelineAlerts.validateProps(props);
    const stack = Stack.of(this);
    const key = new kms.Key(this, 'TopicKey', {
      enableKeyRotation: true,
      description: 'Encrypts the pipeline alert topic',
    });
    this.topic = new sns.Topic(this, 'Topic', {
      displayName: 'Quantum pipeline alerts',
      masterKey: key,
      enforceSSL: true,
    });
    if (props.email) this.topic.addSubscription(new subscriptions.EmailSubscription(props.email));
    const arn = props.stateMachine.stateMachineArn;

    this.deadLetterQueue = new sqs.Queue(this, 'TriggerDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: DEAD_LETTER_RETENTION,
    });
    // cdk-nag's SQS3 recognises a dead-letter queue only by another queue's redrive policy; this
    // one is the DeadLetterConfig of the EventBridge targets and schedules (nag.ts's finding type
    // has no SQS entry, hence Validations directly).
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'it is the dead-letter queue of the schedules and rule targets (DeadLetterConfig), not a work queue',
    });

    // EventBridge publishes with this role: no key or topic grant to the events service principal.
    const rules = stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' });
    this.publisher = new iam.Role(this, 'EventsPublisher', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': rules },
      }),
      description: "Lets the pipeline's EventBridge rules publish to its alert topic",
    });
    acknowledge(
      this.publisher,
      wildcardActions(['kms:GenerateDataKey*']),
      'Topic.grantPublish of CDK on the encrypted alert topic: SNS generates data keys of the one topic key',
    );
    this.grantAlarmsPublish(key);

    this.reports = props.reports;
    // The run id of a pipeline execution is its name (WriteFailureReport writes reports/<run id>.html).
    this.failureRule = this.failureRuleFor('ExecutionFailed', props.stateMachine, 'Feature pipeline', reportKey);

    this.successRule = new events.Rule(this, 'FeaturesUpdated', {
      description: 'Success summary of a feature pipeline run',
      eventBus: props.eventBus,
      eventPattern: {
        source: [SUMMARY_EVENT_SOURCE],
        detailType: [SUMMARY_EVENT_DETAIL_TYPE],
        account: [stack.account],
      },
    });
    this.successRule.addTarget(
      new eventTargets.SnsTopic(this.topic, {
        ...this.delivery(),
        message: events.RuleTargetInput.fromText(
          `Feature pipeline run ${events.EventField.fromPath('$.detail.runId')} succeeded. ` +
            `Job 1: ${events.EventField.fromPath('$.detail.features.status')}, ` +
            `${events.EventField.fromPath('$.detail.features.quarantinedTotal')} file(s) quarantined, ` +
            `new rows ${events.EventField.fromPath('$.detail.features.newRows')}. ` +
            `Job 2: ${events.EventField.fromPath('$.detail.mlFeatures.status')}, ` +
            `new rows ${events.EventField.fromPath('$.detail.mlFeatures.newRows')}. ` +
            `Summaries: ${events.EventField.fromPath('$.detail.features.summaryUri')}. ` +
            `Run report: ${events.EventField.fromPath('$.detail.report.uri')}`,
        ),
      }),
    );

    const metric = (name: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/States',
        metricName: name,
        dimensionsMap: { StateMachineArn: arn },
        statistic,
        period: Duration.minutes(5),
      });
    this.jobSlaAlarms = {
      features: this.jobSlaAlarm('FeaturesJobOverSla', 'Job 1 (feature_processing)', 'features', props),
      mlFeatures: this.jobSlaAlarm('MlFeaturesJobOverSla', 'Job 2 (ml_feature_processing)', 'mlFeatures', props),
    };
    this.failureAlarm = new cloudwatch.Alarm(this, 'ExecutionsFailed', {
      alarmDescription: 'Feature pipeline executions failed or timed out',
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut',
        usingMetrics: { failed: metric('ExecutionsFailed', 'Sum'), timedOut: metric('ExecutionsTimedOut', 'Sum') },
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    this.deadLetterAlarm = new cloudwatch.Alarm(this, 'TriggerDeadLettersVisible', {
      alarmDescription:
        'A schedule or event rule could not start its target: the event is in the trigger dead-letter queue',
      metric: this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
        statistic: 'Maximum',
        period: Duration.minutes(5),
      }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const within = props.expectSuccessWithin;
    if (within) {
      this.noSuccessAlarm = new cloudwatch.Alarm(this, 'NoSuccessfulRun', {
        alarmDescription: `No feature pipeline run succeeded in ${within.toHours()} h`,
        metric: metric('ExecutionsSucceeded', 'Sum').with({ period: within }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        // No run at all reports no data: that is the case this alarm is for.
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    }
    const alarms = [
      this.jobSlaAlarms.features,
      this.jobSlaAlarms.mlFeatures,
      this.failureAlarm,
      this.deadLetterAlarm,
      this.noSuccessAlarm,
    ];
    for (const alarm of alarms) if (alarm) this.notify(alarm);
  }

  /** Sends `alarm`'s state changes to the alert topic (an alarm of another construct of this stack). */
  notify(alarm: cloudwatch.Alarm): void {
    alarm.addAlarmAction(new actions.SnsAction(this.topic));
    this.alarms.push(alarm);
  }

  /**
   * The job's running-time alarm. The job-status step publishes the elapsed time of the attempt
   * under way at every poll, so the alarm fires while a job hangs, long before the execution ends
   * (ExecutionTime, which the old run SLA alarm used, is only reported then). No value (no job
   * running) is not breaching: the alarm clears once the job has ended.
   */
  private jobSlaAlarm(id: string, label: string, job: keyof PerJob<number>, props: PipelineAlertsProps) {
    const seconds = props.jobSlaSeconds[job];
    const poll = (props.jobPollInterval ?? Duration.seconds(60)).toSeconds();
    // Whole minutes (CloudWatch's periods), at least 5 and at least one poll.
    const period = Duration.minutes(Math.max(5, Math.ceil(poll / 60)));
    return new cloudwatch.Alarm(this, id, {
      alarmDescription:
        `${label} has been running longer than its SLA (${seconds} s from its submission). ` +
        'See docs/operations.md#metrics-and-alarms',
      metric: new cloudwatch.Metric({
        namespace: PIPELINE_METRICS.namespace,
        metricName: PIPELINE_METRICS.names.jobElapsedSeconds,
        dimensionsMap: {
          [PIPELINE_METRICS.dimensions.stack]: Stack.of(this).stackName,
          [PIPELINE_METRICS.dimensions.job]: PIPELINE_METRICS.jobs[job],
        },
        statistic: 'Maximum',
        period,
      }),
      threshold: seconds,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * CloudWatch alarms publish as the service: the topic and key policies let cloudwatch.amazonaws.com
   * publish and use the key for this stack's alarms only (CloudFormation names them
   * <stack name>-<logical id>-<suffix>), in this account.
   */
  private grantAlarmsPublish(key: kms.Key): void {
    const stack = Stack.of(this);
    const conditions = {
      StringEquals: { 'aws:SourceAccount': stack.account },
      ArnLike: {
        'aws:SourceArn': stack.formatArn({
          service: 'cloudwatch',
          resource: 'alarm',
          resourceName: `${stack.stackName}-*`,
          arnFormat: ArnFormat.COLON_RESOURCE_NAME,
        }),
      },
    };
    const cloudwatchService = new iam.ServicePrincipal('cloudwatch.amazonaws.com');
    this.topic.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsPublish',
        principals: [cloudwatchService],
        actions: ['sns:Publish'],
        resources: [this.topic.topicArn],
        conditions,
      }),
    );
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        sid: 'CloudWatchAlarmsUseTopicKey',
        principals: [cloudwatchService],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
        resources: ['*'],
        conditions,
      }),
    );
  }

  /** The target settings of the rules here: the publisher role, the retry policy and the dead-letter queue. */
  private delivery(): Pick<eventTargets.SnsTopicProps, 'role' | 'retryAttempts' | 'maxEventAge' | 'deadLetterQueue'> {
    return { role: this.publisher, ...TARGET_RETRY, deadLetterQueue: this.deadLetterQueue };
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: PipelineAlertsProps): void {
    if ('slaSeconds' in props) {
      // The run-wide SLA of earlier versions: one alarm per job replaced it.
      throw new Error(
        `PipelineAlerts: slaSeconds (${String((props as { slaSeconds: unknown }).slaSeconds)}) is gone: ` +
          'give jobSlaSeconds {features, mlFeatures}, one alarm per job',
      );
    }
    for (const job of ['features', 'mlFeatures'] as const) {
      const seconds = props.jobSlaSeconds?.[job];
      if (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 60) {
        throw new Error(`PipelineAlerts: jobSlaSeconds.${job} must be a whole number >= 60, got ${seconds}`);
      }
    }
    const poll = props.jobPollInterval?.toSeconds({ integral: false });
    if (poll !== undefined && (!Number.isInteger(poll) || poll < 1)) {
      throw new Error(
        `PipelineAlerts: jobPollInterval must be whole seconds of 1 or more, got ${props.jobPollInterval?.toHumanString()}`,
      );
    }
    if (props.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.email)) {
      throw new Error(`PipelineAlerts: email ${JSON.stringify(props.email)} is not an email address`);
    }
    const within = props.expectSuccessWithin;
    if (within !== undefined) {
      const hours = within.toHours({ integral: false });
      if (!Number.isInteger(hours) || hours < 1 || hours > 168) {
        throw new Error(
          `PipelineAlerts: expectSuccessWithin must be whole hours from 1 to 168, got ${within.toHumanString()}`,
        );
      }
    }
  }

  /** Alerts on failed, timed-out or aborted executions of another state machine (e.g. the R2 sync). */
  watch(stateMachine: sfn.IStateMachine, label: string, pageKey?: FailurePageKey): events.Rule {
    return this.failureRuleFor(`${label.replace(/[^A-Za-z0-9]/g, '')}ExecutionFailed`, stateMachine, label, pageKey);
  }

  private failureRuleFor(
    id: string,
    stateMachine: sfn.IStateMachine,
    label: string,
    pageKey?: FailurePageKey,
  ): events.Rule {
    // Only a FAILED execution went through its failure path; a timed-out or aborted one wrote no page.
    const page =
      this.reports && pageKey
        ? ` | Page (when FAILED): s3://${this.reports.bucketName}/${pageKey(events.EventField.fromPath('$.detail.name'))}`
        : '';
    const rule = new events.Rule(this, id, {
      description: `${label} execution failed, timed out or was aborted`,
      eventPattern: {
        source: ['aws.states'],
        detailType: ['Step Functions Execution Status Change'],
        detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [stateMachine.stateMachineArn] },
      },
    });
    rule.addTarget(
      new eventTargets.SnsTopic(this.topic, {
        ...this.delivery(),
        message: events.RuleTargetInput.fromText(
          `${label} execution ${events.EventField.fromPath('$.detail.name')} ended ` +
            `${events.EventField.fromPath('$.detail.status')}: ${events.EventField.fromPath('$.detail.error')} - ` +
            `${events.EventField.fromPath('$.detail.cause')}${page}`,
        ),
      }),
    );
    return rule;
  }
}
