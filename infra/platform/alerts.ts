/**
 * Alerts of the feature pipeline, all to one SNS topic: failed / timed-out / aborted executions
 * (EventBridge rule on Step Functions status changes), the success summary (rule on the
 * pipeline's own "ML Features Updated" event), and CloudWatch alarms on SLA and failures.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { SUMMARY_EVENT_DETAIL_TYPE, SUMMARY_EVENT_SOURCE } from '../../lambdas/feature-pipeline/contract';

export interface PipelineAlertsProps {
  readonly stateMachine: sfn.IStateMachine;
  /** @default no subscription (subscribe in the console) */
  readonly email?: string;
  /** A run taking longer than this raises the SLA alarm. */
  readonly slaSeconds: number;
}

export class PipelineAlerts extends Construct {
  readonly topic: sns.Topic;
  readonly failureRule: events.Rule;
  readonly successRule: events.Rule;
  readonly slaAlarm: cloudwatch.Alarm;
  readonly failureAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: PipelineAlertsProps) {
    super(scope, id);
    PipelineAlerts.validateProps(props);
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

    this.failureRule = this.failureRuleFor('ExecutionFailed', props.stateMachine, 'Feature pipeline');

    this.successRule = new events.Rule(this, 'FeaturesUpdated', {
      description: 'Success summary of a feature pipeline run',
      eventPattern: { source: [SUMMARY_EVENT_SOURCE], detailType: [SUMMARY_EVENT_DETAIL_TYPE] },
    });
    this.successRule.addTarget(
      new eventTargets.SnsTopic(this.topic, {
        message: events.RuleTargetInput.fromText(
          `Feature pipeline run ${events.EventField.fromPath('$.detail.runId')} succeeded. ` +
            `Job 1: ${events.EventField.fromPath('$.detail.features.status')}, ` +
            `${events.EventField.fromPath('$.detail.features.quarantinedTotal')} file(s) quarantined, ` +
            `new rows ${events.EventField.fromPath('$.detail.features.newRows')}. ` +
            `Job 2: ${events.EventField.fromPath('$.detail.mlFeatures.status')}, ` +
            `new rows ${events.EventField.fromPath('$.detail.mlFeatures.newRows')}. ` +
            `Summaries: ${events.EventField.fromPath('$.detail.features.summaryUri')}`,
        ),
      }),
    );
    key.grantEncryptDecrypt(new iam.ServicePrincipal('events.amazonaws.com'));

    const metric = (name: string, statistic: string) =>
      new cloudwatch.Metric({
        namespace: 'AWS/States',
        metricName: name,
        dimensionsMap: { StateMachineArn: arn },
        statistic,
        period: Duration.minutes(5),
      });
    this.slaAlarm = new cloudwatch.Alarm(this, 'SlaExceeded', {
      alarmDescription: `A feature pipeline run took longer than its SLA (${props.slaSeconds} s)`,
      metric: metric('ExecutionTime', 'Maximum'),
      threshold: props.slaSeconds * 1000, // ExecutionTime is reported in milliseconds
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
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
    for (const alarm of [this.slaAlarm, this.failureAlarm]) alarm.addAlarmAction(new actions.SnsAction(this.topic));
    key.grantEncryptDecrypt(new iam.ServicePrincipal('cloudwatch.amazonaws.com'));
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: PipelineAlertsProps): void {
    if (!Number.isInteger(props.slaSeconds) || props.slaSeconds < 60) {
      throw new Error(`PipelineAlerts: slaSeconds must be a whole number >= 60, got ${props.slaSeconds}`);
    }
    if (props.email !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(props.email)) {
      throw new Error(`PipelineAlerts: email ${JSON.stringify(props.email)} is not an email address`);
    }
  }

  /** Alerts on failed, timed-out or aborted executions of another state machine (e.g. the R2 sync). */
  watch(stateMachine: sfn.IStateMachine, label: string): events.Rule {
    return this.failureRuleFor(`${label.replace(/[^A-Za-z0-9]/g, '')}ExecutionFailed`, stateMachine, label);
  }

  private failureRuleFor(id: string, stateMachine: sfn.IStateMachine, label: string): events.Rule {
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
        message: events.RuleTargetInput.fromText(
          `${label} execution ${events.EventField.fromPath('$.detail.name')} ended ` +
            `${events.EventField.fromPath('$.detail.status')}: ${events.EventField.fromPath('$.detail.error')} - ` +
            `${events.EventField.fromPath('$.detail.cause')}`,
        ),
      }),
    );
    return rule;
  }
}
