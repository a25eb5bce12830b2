/**
 * The hardening of the stack: scoped IAM (PassRole, SSM, the alert topic's key and policy, the
 * Spark job role's trust), the pipeline's own event bus, dead-lettered triggers with their
 * alarms, and the versioned raw-results bucket.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../infra/config';
import { PipelineAlerts } from '../../infra/platform/alerts';
import { PipelineEventBus } from '../../infra/platform/event-bus';
import { PipelineBuckets } from '../../infra/platform/storage';
import { resolveDefinition } from '../../localstack/embedded/definition';
import { busNameOf, hostBusBindings, LocalEventBridge } from '../../localstack/embedded/local-events';
import { type Synthesized, synth } from './support';

const R2_ACCOUNT = '0123456789abcdef0123456789abcdef';
const TAGGED_HOST = { tag: { key: 'role', value: 'vqe-gpu' } };

type Json = Record<string, any>;

function idOf(s: Synthesized, construct: { node: { defaultChild?: unknown } }): string {
  return s.stack.getLogicalId(construct.node.defaultChild as never);
}

/** Every statement of the inline policies attached to the role with this logical id. */
function statementsOfRole(s: Synthesized, roleId: string): Json[] {
  return Object.values(s.json.Resources)
    .filter(
      (r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify((r.Properties as Json).Roles).includes(`"${roleId}"`),
    )
    .flatMap((r) => (r.Properties as Json).PolicyDocument.Statement as Json[]);
}

function actionsOfRole(s: Synthesized, roleId: string): string[] {
  return statementsOfRole(s, roleId)
    .flatMap((st) => ([] as string[]).concat(st.Action))
    .sort();
}

function resourcesOfType(s: Synthesized, type: string): Array<[string, Json]> {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, (r.Properties ?? {}) as Json]);
}

describe('IAM scoping', () => {
  it('passes the Spark job role from the submit function only, and only to EMR Serverless', () => {
    // Prepare
    const s = synth();
    const fns = s.stack.functions.functions;
    const jobRole = { 'Fn::GetAtt': [idOf(s, s.stack.compute!.jobRole), 'Arn'] };

    // Act
    const passRoles = (name: keyof typeof fns) =>
      statementsOfRole(s, idOf(s, fns[name].role!)).filter((st) => st.Action === 'iam:PassRole');

    // Assess
    expect(passRoles('submit-job')).toEqual([
      {
        Action: 'iam:PassRole',
        Effect: 'Allow',
        Resource: jobRole,
        Condition: { StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' } },
      },
    ]);
    expect(passRoles('job-status')).toEqual([]);
    expect(passRoles('cancel-job')).toEqual([]);
  });

  it('gives each EMR step only the job-run actions its backend call makes', () => {
    // Prepare
    const s = synth();
    const fns = s.stack.functions.functions;

    // Act
    const emrActions = (name: keyof typeof fns) =>
      actionsOfRole(s, idOf(s, fns[name].role!)).filter((action) => action.startsWith('emr-serverless:'));

    // Assess
    expect(emrActions('submit-job')).toEqual(['emr-serverless:StartJobRun']);
    expect(emrActions('job-status')).toEqual(['emr-serverless:CancelJobRun', 'emr-serverless:GetJobRun']);
    expect(emrActions('cancel-job')).toEqual(['emr-serverless:CancelJobRun']);
  });

  it('lets EMR Serverless assume the job role for this account and application only', () => {
    // Prepare
    const s = synth();
    const application = { 'Fn::GetAtt': [s.stack.getLogicalId(s.stack.compute!.application), 'Arn'] };

    // Act
    const trust = s.json.Resources[idOf(s, s.stack.compute!.jobRole)].Properties as Json;

    // Assess
    expect(trust.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: 'emr-serverless.amazonaws.com' },
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: {
            'aws:SourceArn': [application, { 'Fn::Join': ['', [application, '/jobruns/*']] }],
          },
        },
      },
    ]);
  });

  it('grants each SSM step only the status, cancel and host-lookup calls it makes', () => {
    // Prepare
    const s = synth({ batch: { host: TAGGED_HOST, build: { enabled: true, contextDir: '/srv/qp' } } });
    const fns = s.stack.vqeBatch!.functions;
    const ssmActions = (name: keyof typeof fns) =>
      [...new Set(actionsOfRole(s, idOf(s, fns[name].role!)).filter((a) => a.startsWith('ssm:')))].sort();

    // Act
    const granted = {
      start: ssmActions('start-run'),
      check: ssmActions('check-run'),
      build: ssmActions('image-build'),
    };

    // Assess
    expect(granted).toEqual({
      start: ['ssm:DescribeInstanceInformation', 'ssm:SendCommand'],
      check: ['ssm:CancelCommand', 'ssm:GetCommandInvocation', 'ssm:SendCommand'],
      build: ['ssm:DescribeInstanceInformation', 'ssm:GetCommandInvocation', 'ssm:SendCommand'],
    });
  });

  it("lets CloudWatch use the alert topic's key only for this stack's alarms, and EventBridge not at all", () => {
    // Prepare
    const s = synth();

    // Act
    const [[, key]] = resourcesOfType(s, 'AWS::KMS::Key').filter(([id]) => id.startsWith('AlertsTopicKey'));
    const services = (key.KeyPolicy.Statement as Json[]).filter((st) => st.Principal?.Service);

    // Assess
    expect(services).toEqual([
      {
        Sid: 'CloudWatchAlarmsUseTopicKey',
        Effect: 'Allow',
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
          ArnLike: { 'aws:SourceArn': expect.anything() },
        },
      },
    ]);
    expect(JSON.stringify(services[0].Condition.ArnLike)).toContain(':alarm:QuantumPipeline-*');
  });

  it('lets CloudWatch publish to the topic for these alarms, and the rules publish through a role of their own', () => {
    // Prepare
    const s = synth();
    const [[, topicPolicy]] = resourcesOfType(s, 'AWS::SNS::TopicPolicy');

    // Act
    const allows = (topicPolicy.PolicyDocument.Statement as Json[]).filter((st) => st.Effect === 'Allow');
    const ruleTargets = resourcesOfType(s, 'AWS::Events::Rule')
      .filter(([id]) => id.startsWith('Alerts'))
      .flatMap(([, rule]) => rule.Targets as Json[]);

    // Assess
    expect(allows).toEqual([
      expect.objectContaining({
        Principal: { Service: 'cloudwatch.amazonaws.com' },
        Action: 'sns:Publish',
        Condition: expect.objectContaining({ StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } }),
      }),
    ]);
    expect(ruleTargets.length).toBeGreaterThan(0);
    for (const target of ruleTargets)
      expect(target.RoleArn).toEqual({ 'Fn::GetAtt': [expect.stringMatching(/^AlertsEventsPublisher/), 'Arn'] });
    s.template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [
          Match.objectLike({
            Principal: { Service: 'events.amazonaws.com' },
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: { 'aws:SourceArn': Match.anyValue() },
            },
          }),
        ],
      },
      Description: "Lets the pipeline's EventBridge rules publish to its alert topic",
    });
  });
});

describe("the pipeline's own event bus", () => {
  it('denies PutEvents to everyone but the state machines that publish (and read-summary, for the findings)', () => {
    // Prepare
    const s = synth({ r2: { accountId: R2_ACCOUNT }, batch: { host: { instanceId: 'i-0123456789abcdef0' } } });
    const readSummary = { role: s.stack.functions.functions['read-summary'].role! };
    const machines = [
      s.stack.pipeline.stateMachine,
      s.stack.objectArrivals.stateMachine,
      s.stack.r2Sync!.stateMachine,
      s.stack.vqeBatch!.stateMachine,
    ];
    const producers = [machines[0], readSummary, ...machines.slice(1)];

    // Act
    const [[, policy]] = resourcesOfType(s, 'AWS::Events::EventBusPolicy');

    // Assess
    expect(policy.EventBusName).toEqual({ Ref: idOf(s, s.stack.events.bus) });
    expect(policy.Statement).toMatchObject({
      Effect: 'Deny',
      Principal: { AWS: '*' },
      Action: 'events:PutEvents',
      Condition: {
        ArnNotEquals: {
          'aws:PrincipalArn': producers.map((machine) => ({ 'Fn::GetAtt': [idOf(s, machine.role), 'Arn'] })),
        },
      },
    });
  });

  it("moves the rules on the pipeline's events to the bus, matching this account only", () => {
    // Prepare
    const s = synth({ r2: { accountId: R2_ACCOUNT }, batch: { host: { instanceId: 'i-0123456789abcdef0' } } });
    const bus = { Ref: idOf(s, s.stack.events.bus) };

    // Act
    // AWS services' events (Step Functions status changes, S3's Object Created) go to the default bus only.
    const onOwnEvents = resourcesOfType(s, 'AWS::Events::Rule').filter(
      ([, rule]) => !['aws.states', 'aws.s3'].includes(rule.EventPattern.source[0]),
    );

    // Assess
    expect(onOwnEvents.map(([id]) => id.replace(/[0-9A-F]{8}$/, '')).sort()).toEqual([
      'AlertsFeaturesUpdated',
      'BatchFinishedTriggerOnBatchFinished',
      'ObjectArrivalsOnObjectsSettled',
      'QualityFindingsRule',
      'R2SyncTriggersOnFeaturesUpdated',
    ]);
    for (const [, rule] of onOwnEvents) {
      expect(rule.EventBusName).toEqual(bus);
      expect(rule.EventPattern.account).toEqual([{ Ref: 'AWS::AccountId' }]);
    }
  });

  it('has the state machines publish on the bus', () => {
    // Prepare
    const s = synth({ r2: { accountId: R2_ACCOUNT } });
    const busArn = { 'Fn::GetAtt': [idOf(s, s.stack.events.bus), 'Arn'] };

    // Act
    const putEvents = [s.stack.pipeline.stateMachine, s.stack.r2Sync!.stateMachine].map((machine) =>
      statementsOfRole(s, idOf(s, machine.role)).filter((st) => st.Action === 'events:PutEvents'),
    );

    // Assess
    for (const statements of putEvents) expect(statements).toEqual([expect.objectContaining({ Resource: busArn })]);
  });

  it('still routes locally: ML Features Updated on the bus starts the R2 sync and mails the summary', () => {
    // Prepare
    const s = synth({ r2: { accountId: R2_ACCOUNT } });
    const states = resolveDefinition(s.json, idOf(s, s.stack.pipeline.stateMachine)).States as Json;
    const entry = states.PublishFeaturesUpdated.Parameters.Entries[0];
    const bus = new LocalEventBridge(s.json);
    const started: unknown[] = [];
    bus.connectStateMachine(idOf(s, s.stack.r2Sync!.stateMachine), (input) => started.push(input));
    const detail = { runId: 'r1', features: {}, mlFeatures: { status: 'succeeded' } };

    // Act
    hostBusBindings(bus).eventBus([
      {
        Source: entry.Source,
        DetailType: entry.DetailType,
        Detail: JSON.stringify(detail),
        EventBusName: entry.EventBusName,
      },
    ]);

    // Assess
    expect(busNameOf(entry.EventBusName)).toBe(idOf(s, s.stack.events.bus));
    expect(started).toEqual([{ trigger: 'features-updated' }]);
    expect(bus.deliveries.map((d) => d.rule)).toEqual([idOf(s, s.stack.alerts.successRule)]);
  });

  it('still routes in the local profile: a finished batch that produced records starts the feature pipeline', () => {
    // Prepare
    const s = synth({ profile: 'local' });
    const states = resolveDefinition(s.json, idOf(s, s.stack.vqeBatch!.stateMachine)).States as Json;
    const entry = states.PublishBatchFinished.Parameters.Entries[0];
    const bus = new LocalEventBridge(s.json);
    const started: unknown[] = [];
    bus.connectStateMachine(idOf(s, s.stack.pipeline.stateMachine), (input) => started.push(input));

    // Act
    hostBusBindings(bus).eventBus([
      {
        Source: entry.Source,
        DetailType: entry.DetailType,
        Detail: JSON.stringify({ batchId: 'b1', producedRecords: true }),
        EventBusName: entry.EventBusName,
      },
    ]);

    // Assess
    expect(busNameOf(entry.EventBusName)).toBe(idOf(s, s.stack.events.bus));
    expect(started).toEqual([{ trigger: 'vqe-batch' }]);
  });

  it('refuses the name "default" and a bus nobody may publish on', () => {
    expect(() => new PipelineEventBus(new Stack(), 'E', { eventBusName: 'default' })).toThrow(
      'PipelineEventBus: eventBusName must be 1-256 letters, digits, . - or _ and not "default", got "default"',
    );
    const stack = new Stack();
    new PipelineEventBus(stack, 'E');
    expect(() => Stack.of(stack).resolve(stack.node.validate())).not.toThrow();
    expect(stack.node.findChild('E').node.validate()).toEqual([
      'PipelineEventBus: no producer was added (addProducer); the policy would deny every PutEvents',
    ]);
  });
});

describe('dead-lettered triggers', () => {
  it('gives every schedule and rule target the dead-letter queue and a stated retry policy', () => {
    // Prepare
    const s = synth({ r2: { accountId: R2_ACCOUNT }, batch: { host: { instanceId: 'i-0123456789abcdef0' } } });
    const dlq = { Arn: { 'Fn::GetAtt': [idOf(s, s.stack.alerts.deadLetterQueue), 'Arn'] } };
    const retry = { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 };

    // Act
    const targets = [
      ...resourcesOfType(s, 'AWS::Events::Rule').flatMap(([, rule]) => rule.Targets as Json[]),
      ...resourcesOfType(s, 'AWS::Scheduler::Schedule').map(([, schedule]) => schedule.Target as Json),
    ];

    // Assess: 4 failure rules, the summary, the data-quality findings, 2 start rules, the 2 rules
    // of new raw objects, 3 schedules (the pipeline's, the R2 sync's, table maintenance's)
    expect(targets).toHaveLength(13);
    for (const target of targets) expect(target).toMatchObject({ DeadLetterConfig: dlq, RetryPolicy: retry });
  });

  it('keeps the dead letters encrypted for 14 days and refuses them over plain HTTP', () => {
    // Prepare
    const s = synth();
    const queueId = idOf(s, s.stack.alerts.deadLetterQueue);

    // Act
    const queue = s.json.Resources[queueId].Properties as Json;

    // Assess
    expect(queue).toEqual({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 3600 });
    s.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('alerts as soon as the dead-letter queue holds a message', () => {
    // Prepare
    const s = synth();

    // Act
    const alarm = s.json.Resources[idOf(s, s.stack.alerts.deadLetterAlarm)].Properties as Json;

    // Assess
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [idOf(s, s.stack.alerts.deadLetterQueue), 'QueueName'] } },
      ],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    expect(alarm.AlarmActions).toEqual([{ Ref: idOf(s, s.stack.alerts.topic) }]);
  });

  it('alerts when no pipeline run succeeded for 26 hours while the daily schedule is on', () => {
    // Prepare
    const on = synth();
    const off = synth({ schedule: { enabled: false } });

    // Act
    const alarm = on.json.Resources[idOf(on, on.stack.alerts.noSuccessAlarm!)].Properties as Json;

    // Assess
    expect(alarm).toMatchObject({
      Namespace: 'AWS/States',
      MetricName: 'ExecutionsSucceeded',
      Dimensions: [{ Name: 'StateMachineArn', Value: { Ref: idOf(on, on.stack.pipeline.stateMachine) } }],
      Statistic: 'Sum',
      Period: 26 * 3600,
      EvaluationPeriods: 1,
      ComparisonOperator: 'LessThanThreshold',
      Threshold: 1,
      TreatMissingData: 'breaching',
      AlarmActions: [{ Ref: idOf(on, on.stack.alerts.topic) }],
    });
    expect(off.stack.alerts.noSuccessAlarm).toBeUndefined();
  });

  it('refuses a no-success window that is not whole hours from 1 to 168', () => {
    const stack = new Stack();
    const machine = new sfn.StateMachine(stack, 'M', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P')),
    });

    expect(
      () =>
        new PipelineAlerts(stack, 'A', {
          stateMachine: machine,
          jobSlaSeconds: { features: 60, mlFeatures: 60 },
          expectSuccessWithin: Duration.minutes(90),
        }),
    ).toThrow('PipelineAlerts: expectSuccessWithin must be whole hours from 1 to 168, got 1 hour 30 minutes');
  });
});

describe('raw-results versioning', () => {
  it('versions the raw-results bucket and expires noncurrent versions after 30 days by default', () => {
    // Prepare
    const s = synth();

    // Act
    const raw = s.json.Resources[idOf(s, s.stack.buckets.rawResults)].Properties as Json;

    // Assess
    expect(raw.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(raw.LifecycleConfiguration.Rules).toContainEqual({
      Id: 'expire-noncurrent-versions',
      Status: 'Enabled',
      NoncurrentVersionExpiration: { NoncurrentDays: 30 },
      ExpiredObjectDeleteMarker: true,
    });
  });

  it('takes the days from buckets.noncurrentVersionDays, also as -c JSON, and versions no other bucket', () => {
    // Prepare
    const s = synth({ buckets: '{"noncurrentVersionDays": 7}' });

    // Act
    const versioned = resourcesOfType(s, 'AWS::S3::Bucket').filter(([, b]) => b.VersioningConfiguration);

    // Assess
    expect(versioned.map(([id]) => id)).toEqual([idOf(s, s.stack.buckets.rawResults)]);
    expect(versioned[0][1].LifecycleConfiguration.Rules).toContainEqual(
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 7 } }),
    );
  });

  it('refuses fewer than one day, in the config and in the construct', () => {
    expect(() => loadConfig({ buckets: { noncurrentVersionDays: 0 } })).toThrow(ConfigError);
    expect(() => loadConfig({ buckets: { noncurrentVersionDays: 0 } })).toThrow(
      /buckets\.noncurrentVersionDays: .*got 0$/,
    );
    expect(() => new PipelineBuckets(new Stack(), 'B', { noncurrentVersionDays: 0 })).toThrow(
      'PipelineBuckets: noncurrentVersionDays must be a whole number of days >= 1, got 0',
    );
  });
});
