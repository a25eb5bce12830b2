/**
 * A failed Spark job attempt is heard of when it happens, not only when the execution has failed
 * for good: a metric filter on the feature pipeline's execution log counts the job phases' Fail
 * states, and an alarm on it goes to the alert topic.
 */
import type { Stack } from 'aws-cdk-lib';
import { Match, type Template } from 'aws-cdk-lib/assertions';
import * as actions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as sns from 'aws-cdk-lib/aws-sns';
import { describe, expect, it } from 'vitest';
import { type FeaturePipeline, HISTORY_EVENT_BUDGET } from '../../infra/feature-pipeline/feature-pipeline';
import { pipelineAlone } from './pipeline-alone';

/** The pipeline with its alarm wired to an alert topic, as the stack wires it. */
function withTopic(): { template: Template; pipeline: FeaturePipeline; stack: Stack } {
  const { stack, pipeline, template } = pipelineAlone();
  const topic = new sns.Topic(stack, 'Alerts');
  pipeline.failedJobAttemptsAlarm.addAlarmAction(new actions.SnsAction(topic));
  return { template: template(), pipeline, stack };
}

describe('failed job attempts', () => {
  it("count the job phases' Fail states in the execution log, adding no state to the history", () => {
    // Act
    const { template, pipeline, stack } = withTopic();

    // Assess
    template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: stack.getLogicalId(pipeline.logGroup.node.defaultChild as never) },
      MetricTransformations: [
        { MetricNamespace: 'QuantumPipeline/qp-feature-pipeline', MetricName: 'JobAttemptsFailed', MetricValue: '1' },
      ],
    });
    const pattern = Object.values(template.findResources('AWS::Logs::MetricFilter'))[0].Properties
      .FilterPattern as string;
    expect(pattern).toContain('($.type = "FailStateEntered")');
    for (const state of ['FeatureJobFailed', 'FeatureJobAborted', 'MlFeatureJobFailed', 'MlFeatureJobAborted']) {
      expect(pattern).toContain(`$.details.name = "${state}"`);
    }
    // Job 1: 4 attempts x (24 + 121 polls x 9); job 2: 3 x (24 + 61 x 9); 200 outside the jobs: as before.
    expect(pipeline.worstCaseHistoryEvents).toBe(4452 + 3 * (24 + 61 * 9) + 200);
    expect(pipeline.worstCaseHistoryEvents).toBeLessThanOrEqual(HISTORY_EVENT_BUDGET);
  });

  it('raise an alarm on the first one, with the retry policy in its description, to the alert topic', () => {
    const { template, stack } = withTopic();

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Namespace: 'QuantumPipeline/qp-feature-pipeline',
      MetricName: 'JobAttemptsFailed',
      Statistic: 'Sum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmDescription: Match.stringLikeRegexp(
        'job 1 is retried 3 time\\(s\\), first after 1200 s .*job 2 is retried 2 time\\(s\\), first after 900 s',
      ),
      AlarmActions: [{ Ref: stack.getLogicalId(stack.node.findChild('Alerts').node.defaultChild as never) }],
    });
  });
});
