/**
 * New raw objects start the pipeline: S3's EventBridge notifications on raw-results, the rule on
 * "Object Created" under experiments/, the debounce path (function -> state machine -> event ->
 * rule -> feature pipeline), and the permissions its grants give.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../infra/config';
import { ObjectArrivalsTrigger } from '../../infra/platform/object-arrivals';
import { resolveDefinition } from '../../localstack/embedded/definition';
import { type Synthesized, synth } from './support';

function idOf(s: Synthesized, construct: { node: { defaultChild?: unknown } }): string {
  return s.stack.getLogicalId(construct.node.defaultChild as never);
}

function rulesOf(s: Synthesized): Array<[string, Record<string, any>]> {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === 'AWS::Events::Rule')
    .map(([id, r]) => [id, r.Properties as Record<string, any>]);
}

describe('S3 notifications of the raw-results bucket', () => {
  it.each(['aws', 'local'])('go to EventBridge, by the bucket property itself (%s profile)', (profile) => {
    // Prepare + Act
    const s = synth({ profile });

    // Assess: raw-results only, and no notifications custom resource (a Lambda with s3:PutBucketNotification on "*")
    const buckets = s.template.findResources('AWS::S3::Bucket');
    const raw = idOf(s, s.stack.buckets.rawResults);
    expect(buckets[raw].Properties.NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    for (const [id, bucket] of Object.entries(buckets)) {
      if (id !== raw) expect(bucket.Properties.NotificationConfiguration, id).toBeUndefined();
    }
    s.template.resourceCountIs('Custom::S3BucketNotifications', 0);
  });
});

describe('the object arrivals trigger', () => {
  it('matches Object Created of raw-results under experiments/ on the default bus and calls the debounce function', () => {
    // Prepare + Act
    const s = synth();

    // Assess
    const [, rule] = rulesOf(s).find(([id]) => id.startsWith('ObjectArrivalsOnRawObjectCreated')) ?? [];
    expect(rule?.EventBusName).toBeUndefined(); // S3 puts its events on the default bus only
    expect(rule?.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created'],
      detail: {
        bucket: { name: [{ Ref: idOf(s, s.stack.buckets.rawResults) }] },
        object: { key: [{ prefix: 'experiments/' }] },
      },
    });
    expect(rule?.State).toBe('ENABLED');
    expect(rule?.Targets).toEqual([
      expect.objectContaining({
        Arn: { 'Fn::GetAtt': [idOf(s, s.stack.objectArrivals.debounceFunction), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
        DeadLetterConfig: { Arn: { 'Fn::GetAtt': [idOf(s, s.stack.alerts.deadLetterQueue), 'Arn'] } },
      }),
    ]);
  });

  it('gives the function the debounce state machine and the window: quietMinutes, 10 by default', () => {
    // Prepare + Act
    const byDefault = synth();
    const three = synth({ objectArrivals: { quietMinutes: 3 } });

    // Assess
    const variables = (s: Synthesized) =>
      s.json.Resources[idOf(s, s.stack.objectArrivals.debounceFunction)].Properties?.Environment as {
        Variables: Record<string, unknown>;
      };
    expect(variables(byDefault).Variables).toMatchObject({
      QUIET_SECONDS: '600',
      DEBOUNCE_STATE_MACHINE_ARN: { Ref: idOf(byDefault, byDefault.stack.objectArrivals.stateMachine) },
    });
    expect(variables(three).Variables.QUIET_SECONDS).toBe('180');
    expect(three.stack.objectArrivals.quietMinutes).toBe(3);
  });

  it('waits until the window ends, then puts "Raw Objects Settled" on the pipeline bus', () => {
    // Prepare
    const s = synth();

    // Act
    const definition = resolveDefinition(s.json, idOf(s, s.stack.objectArrivals.stateMachine));

    // Assess
    expect(definition.StartAt).toBe('WaitForQuietPeriod');
    expect(definition.States.WaitForQuietPeriod).toMatchObject({
      Type: 'Wait',
      TimestampPath: '$.window.end',
      Next: 'PublishObjectsSettled',
    });
    const publish = definition.States.PublishObjectsSettled;
    expect(publish.Resource).toBe('arn:aws:states:::events:putEvents');
    expect((publish.Parameters as any).Entries).toEqual([
      {
        EventBusName: expect.stringContaining(idOf(s, s.stack.events.bus)),
        Source: 'quantum-pipeline.object-arrivals',
        DetailType: 'Raw Objects Settled',
        Detail: { 'window.$': '$.window', 'execution.$': '$$.Execution.Name' },
      },
    ]);
    expect(publish.Next).toBe('RunRequested');
    s.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'QuantumPipeline-object-arrivals',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL' }),
    });
  });

  it('starts the feature pipeline with {"trigger":"objects"} on the settled event, from this account only', () => {
    // Prepare + Act
    const s = synth();

    // Assess
    const [, rule] = rulesOf(s).find(([id]) => id.startsWith('ObjectArrivalsOnObjectsSettled')) ?? [];
    expect(rule?.EventBusName).toEqual({ Ref: idOf(s, s.stack.events.bus) });
    expect(rule?.EventPattern).toEqual({
      source: ['quantum-pipeline.object-arrivals'],
      'detail-type': ['Raw Objects Settled'],
      account: [{ Ref: 'AWS::AccountId' }],
    });
    expect(rule?.Targets).toEqual([
      expect.objectContaining({
        Arn: { Ref: idOf(s, s.stack.pipeline.stateMachine) },
        Input: '{"trigger":"objects"}',
        RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 },
      }),
    ]);
  });

  it('keeps the daily schedule as the backstop', () => {
    synth().template.hasResourceProperties('AWS::Scheduler::Schedule', {
      State: 'ENABLED',
      Target: Match.objectLike({ Input: '{"trigger":"schedule"}' }),
    });
  });

  it('grants what each part uses: the function starts the debounce machine only; the machine may put on the bus', () => {
    // Prepare
    const s = synth();
    const debounce = idOf(s, s.stack.objectArrivals.stateMachine);
    const policies = s.template.findResources('AWS::IAM::Policy');
    const statementsOf = (roleId: string) =>
      Object.values(policies)
        .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement as Array<Record<string, any>>);
    const getAttOf = (value: unknown) => (value as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    const fnRole = getAttOf(s.json.Resources[idOf(s, s.stack.objectArrivals.debounceFunction)].Properties?.Role);
    const machineRole = getAttOf(s.json.Resources[debounce].Properties?.RoleArn);

    // Act
    const fnStatements = statementsOf(fnRole);
    const machineStatements = statementsOf(machineRole);

    // Assess
    expect(fnStatements).toContainEqual(
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: debounce } }),
    );
    expect(fnStatements.filter((st) => String(st.Action).startsWith('states:'))).toHaveLength(1);
    expect(machineStatements).toContainEqual(
      expect.objectContaining({
        Action: 'events:PutEvents',
        Resource: { 'Fn::GetAtt': [idOf(s, s.stack.events.bus), 'Arn'] },
      }),
    );
    // The bus's Deny spares its producers: the debounce machine's role is one of them.
    const busPolicy = Object.values(s.template.findResources('AWS::Events::EventBusPolicy'))[0];
    expect(JSON.stringify(busPolicy)).toContain(machineRole);
    // EventBridge may invoke the function, from this rule only.
    s.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeFunction',
      Principal: 'events.amazonaws.com',
      FunctionName: { 'Fn::GetAtt': [idOf(s, s.stack.objectArrivals.debounceFunction), 'Arn'] },
      SourceArn: { 'Fn::GetAtt': [idOf(s, s.stack.objectArrivals.objectCreatedRule), 'Arn'] },
    });
  });

  it('alerts when a debounce execution fails', () => {
    synth().template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: Match.objectLike({
        source: ['aws.states'],
        detail: Match.objectLike({ stateMachineArn: [{ Ref: Match.stringLikeRegexp('^ObjectArrivalsDebounce') }] }),
      }),
    });
  });

  it('deploys both rules disabled when switched off', () => {
    // Prepare + Act
    const s = synth({ objectArrivals: { enabled: false } });

    // Assess
    const states = rulesOf(s)
      .filter(([id]) => id.startsWith('ObjectArrivalsOn'))
      .map(([, r]) => r.State);
    expect(states).toEqual(['DISABLED', 'DISABLED']);
  });

  it('refuses a window that is not a whole number of minutes from 1 to 1440, naming it', () => {
    expect(() => loadConfig({ objectArrivals: { quietMinutes: 0 } })).toThrow(ConfigError);
    expect(() => loadConfig({ objectArrivals: { quietMinutes: 0 } })).toThrow(/objectArrivals\.quietMinutes/);
    const stack = new Stack(new App(), 'Alone');
    const props = {
      rawResults: new s3.Bucket(stack, 'Raw'),
      featurePipeline: new sfn.StateMachine(stack, 'Machine', {
        definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Pass')),
      }),
    };
    expect(() => new ObjectArrivalsTrigger(stack, 'A', { ...props, quietMinutes: 2.5 })).toThrow(
      'ObjectArrivalsTrigger: quietMinutes must be a whole number from 1 to 1440, got 2.5',
    );
    expect(() => new ObjectArrivalsTrigger(stack, 'B', { ...props, keyPrefix: '' })).toThrow(/keyPrefix/);
  });
});
