import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { synth } from './support';

describe('schedule', () => {
  it('starts the pipeline daily at 02:00 UTC with input {"trigger":"schedule"}', () => {
    synth().template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 2 * * ? *)',
      ScheduleExpressionTimezone: 'UTC',
      State: 'ENABLED',
      Target: Match.objectLike({
        Input: '{"trigger":"schedule"}',
        RetryPolicy: Match.objectLike({ MaximumRetryAttempts: 2 }),
      }),
    });
  });

  it('takes its expression and time zone from the config and can be switched off', () => {
    synth({
      schedule: { enabled: false, expression: 'rate(6 hours)', timezone: 'Europe/Berlin' },
    }).template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(6 hours)',
      ScheduleExpressionTimezone: 'Europe/Berlin',
      State: 'DISABLED',
    });
  });

  it('may start only this state machine', () => {
    synth().template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        // Besides the start, the schedule's role may only send to the dead-letter queue (hardening.test.ts).
        Statement: Match.arrayWith([
          Match.objectLike({
            Action: 'states:StartExecution',
            Resource: { Ref: Match.stringLikeRegexp('^FeatureProcessingStateMachine') },
          }),
        ]),
      },
    });
  });
});

describe('alerts', () => {
  it('subscribes the configured address to an encrypted topic, and nobody when none is configured', () => {
    const withEmail = synth({ alertEmail: 'team@example.org' }).template;
    withEmail.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'team@example.org' });
    withEmail.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    synth().template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('alerts on failed, timed-out and aborted executions of the pipeline', () => {
    synth().template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [{ Ref: Match.stringLikeRegexp('^FeatureProcessingStateMachine') }],
        },
      },
      Targets: [
        Match.objectLike({
          InputTransformer: Match.objectLike({
            InputPathsMap: Match.objectLike({ 'detail-status': '$.detail.status' }),
          }),
        }),
      ],
    });
  });

  it("mails a success summary on the pipeline's ML Features Updated event", () => {
    synth().template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['quantum-pipeline.features'], 'detail-type': ['ML Features Updated'] },
    });
  });

  it('raises alarms when a run exceeds the summed SLAs (2 h 15 min) and on any failed or timed-out run', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ExecutionTime',
      Namespace: 'AWS/States',
      Statistic: 'Maximum',
      Threshold: (5400 + 2700) * 1000,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: Match.stringLikeRegexp('^AlertsTopic') }],
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'failed + timedOut' })]),
      Threshold: 1,
    });
    // With the dead-letter and no-successful-run alarms of hardening.test.ts, the Alerts construct has four.
    expect(
      Object.keys(template.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('Alerts')),
    ).toHaveLength(4);
  });
});
