/**
 * The alert of the data-quality gates: an EventBridge rule on the pipeline's own bus matching the
 * "Data Quality Finding" events read-summary puts there (one per finding, see
 * lambdas/feature-pipeline/quality-findings.ts), sending a readable message to the alert topic.
 *
 * EventBridge publishes with a role of this construct that may publish to the topic only (as the
 * other alert rules do), so no service principal is granted the topic's key unconditioned.
 */
import { Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { FINDING_EVENT_DETAIL_TYPE, SUMMARY_EVENT_SOURCE } from '../../lambdas/feature-pipeline/contract';
import { acknowledge, wildcardActions } from '../common/nag';
import { TARGET_RETRY } from '../platform/triggers';

export type FindingSeverity = 'warning' | 'error';
const SEVERITIES: readonly FindingSeverity[] = ['warning', 'error'];

export interface QualityFindingsAlertProps {
  /** The bus read-summary puts the findings on (the stack's PipelineEventBus). */
  readonly eventBus: events.IEventBus;
  /** Where the alert goes (the stack's alert topic). */
  readonly topic: sns.ITopic;
  /** Where an alert that could not be delivered goes. @default none (EventBridge drops it after its retries) */
  readonly deadLetterQueue?: sqs.IQueue;
  /** Findings of these severities alert. @default ['warning', 'error'] */
  readonly severities?: readonly FindingSeverity[];
}

export class QualityFindingsAlert extends Construct {
  readonly rule: events.Rule;
  /** The role EventBridge publishes to the topic with. */
  readonly publisher: iam.Role;

  constructor(scope: Construct, id: string, props: QualityFindingsAlertProps) {
    super(scope, id);
    QualityFindingsAlert.validateProps(props);
    const stack = Stack.of(this);
    this.publisher = new iam.Role(this, 'EventsPublisher', {
      assumedBy: new iam.ServicePrincipal('events.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': stack.account },
        ArnLike: { 'aws:SourceArn': stack.formatArn({ service: 'events', resource: 'rule', resourceName: '*' }) },
      }),
      description: 'Lets the data-quality finding rule publish to the alert topic',
    });
    acknowledge(
      this.publisher,
      wildcardActions(['kms:GenerateDataKey*']),
      'Topic.grantPublish of CDK on the encrypted alert topic: SNS generates data keys of the one topic key',
    );

    this.rule = new events.Rule(this, 'Rule', {
      description:
        'A data-quality gate of a feature pipeline run fired (quarantine, reconciliation, dropped rows, physics)',
      eventBus: props.eventBus,
      eventPattern: {
        source: [SUMMARY_EVENT_SOURCE],
        detailType: [FINDING_EVENT_DETAIL_TYPE],
        account: [stack.account],
        detail: { severity: [...(props.severities ?? SEVERITIES)] },
      },
    });
    const field = (path: string) => events.EventField.fromPath(`$.detail.${path}`);
    this.rule.addTarget(
      new eventTargets.SnsTopic(props.topic, {
        role: this.publisher,
        ...TARGET_RETRY,
        deadLetterQueue: props.deadLetterQueue,
        message: events.RuleTargetInput.fromText(
          `Data-quality finding (${field('severity')}) in feature pipeline run ${field('runId')}, ` +
            `${field('job')} job, gate ${field('gate')}: ${field('message')} ` +
            `Offending (${field('offendingTotal')}): ${field('offendingText')}. ` +
            `Run summary: ${field('summaryUri')}`,
        ),
      }),
    );
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: QualityFindingsAlertProps): void {
    const severities = props.severities;
    if (severities === undefined) return;
    const unknown = severities.filter((s) => !SEVERITIES.includes(s));
    if (severities.length === 0 || unknown.length > 0 || new Set(severities).size !== severities.length) {
      throw new Error(
        `QualityFindingsAlert: severities must be distinct values of ${SEVERITIES.join(', ')}, at least one, got ${JSON.stringify(severities)}`,
      );
    }
  }
}
