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

  it("links the run report in the success summary, from the event's report.uri", () => {
    // Prepare + Act
    const { template } = synth();
    // Assess
    template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: { source: ['quantum-pipeline.features'], 'detail-type': ['ML Features Updated'] },
      Targets: [
        Match.objectLike({
          InputTransformer: Match.objectLike({
            InputPathsMap: Match.objectLike({ 'detail-report-uri': '$.detail.report.uri' }),
            InputTemplate: Match.stringLikeRegexp('Run report: <detail-report-uri>'),
          }),
        }),
      ],
    });
  });

  it('names the page the failure path wrote in the failure mails of the pipeline and of the batch', () => {
    // Prepare + Act
    const s = synth({ batch: { host: { instanceId: 'i-0123456789abcdef0' } } });
    const artifacts = s.stack.getLogicalId(s.stack.buckets.artifacts.node.defaultChild as never);
    const templateOf = (machine: string) => {
      const [rule] = Object.values(
        s.template.findResources('AWS::Events::Rule', {
          Properties: { EventPattern: { detail: { stateMachineArn: [{ Ref: Match.stringLikeRegexp(machine) }] } } },
        }),
      );
      if (!rule) throw new Error(`no failure rule of ${machine}`);
      const transformer = (rule.Properties.Targets as { InputTransformer: Record<string, unknown> }[])[0]
        .InputTransformer;
      return { paths: transformer.InputPathsMap, text: JSON.stringify(transformer.InputTemplate) };
    };

    // Act
    const pipeline = templateOf('FeatureProcessingStateMachine');
    const batch = templateOf('VqeBatchStateMachine');

    // Assess: the bucket is a reference, the execution's name a transformer variable
    expect(pipeline.paths).toMatchObject({ 'detail-name': '$.detail.name' });
    expect(pipeline.text).toContain(`Page (when FAILED): s3://",{"Ref":"${artifacts}"},"/reports/<detail-name>.html`);
    expect(batch.text).toContain(
      `Page (when FAILED): s3://",{"Ref":"${artifacts}"},"/reports/YYYYMMDDTHHMMSSZ-<detail-name>.html`,
    );
  });

  it('raises an alarm on any failed or timed-out run, and none on ExecutionTime (only known once a run ended)', () => {
    // Prepare + Act
    const { template } = synth();

    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      Metrics: Match.arrayWith([Match.objectLike({ Expression: 'failed + timedOut' })]),
      Threshold: 1,
    });
    expect(template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'ExecutionTime' } })).toEqual(
      {},
    );
    // Two job SLA alarms, failures, dead letters and no successful run (hardening.test.ts): five.
    expect(
      Object.keys(template.findResources('AWS::CloudWatch::Alarm')).filter((id) => id.startsWith('Alerts')),
    ).toHaveLength(5);
  });

  it.each([
    ['FeaturesJobOverSla', 'feature_processing', 5400],
    ['MlFeaturesJobOverSla', 'ml_feature_processing', 2700],
  ])('raises %s while job %s runs longer than its SLA (%i s), on JobElapsedSeconds, to the topic', (id, job, sla) => {
    // Prepare + Act
    const s = synth({ stackName: 'qp-test' });

    // Assess
    const alarms = s.template.findResources('AWS::CloudWatch::Alarm');
    const alarmId = Object.keys(alarms).find((key) => key.startsWith(`Alerts${id}`));
    expect(alarmId).toBeDefined();
    expect(alarms[alarmId as string].Properties).toMatchObject({
      Namespace: 'QuantumPipeline',
      MetricName: 'JobElapsedSeconds',
      // Exactly these two, as the job-status step writes them (CDK sorts them by name).
      Dimensions: [
        { Name: 'Job', Value: job },
        { Name: 'Stack', Value: 'qp-test' },
      ],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: sla,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(alarms[alarmId as string].Properties.AlarmActions).toEqual([
      { Ref: Object.keys(s.template.findResources('AWS::SNS::Topic')).find((key) => key.startsWith('AlertsTopic')) },
    ]);
  });

  it('takes each job SLA from jobs.<job>.slaSeconds, and sizes the period to a slow poll', () => {
    // Prepare + Act
    const { template } = synth({
      jobs: { features: { slaSeconds: 600 }, mlFeatures: { slaSeconds: 900 } },
      pollIntervalSeconds: 600,
    });

    // Assess
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'JobElapsedSeconds',
      Dimensions: Match.arrayWith([{ Name: 'Job', Value: 'feature_processing' }]),
      Threshold: 600,
      Period: 600,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'JobElapsedSeconds',
      Dimensions: Match.arrayWith([{ Name: 'Job', Value: 'ml_feature_processing' }]),
      Threshold: 900,
      Period: 600,
    });
  });
});
