/**
 * cdk-nag AwsSolutions: both profiles synthesize with no unacknowledged finding, a new wildcard
 * fails the synth even on a role whose other wildcards are acknowledged, and the helpers of
 * infra/common/nag.ts scope each acknowledgement to its finding.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/assemble';
import { acknowledge, acknowledgeUnscopedActions, wildcardActions, wildcardResource } from '../../infra/common/nag';
import { loadConfig } from '../../infra/config';
import type { QuantumPipelineStack } from '../../infra/stack';
import { fakeSparkArtifacts, unacknowledgedIam5 } from './support';

function synthWithNag(context: Record<string, unknown>, tamper?: (stack: QuantumPipelineStack) => void): () => void {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = buildApp(app, loadConfig(context), fakeSparkArtifacts(), { nag: true });
  tamper?.(stack);
  return () => app.synth();
}

const createAccessKey = () => new iam.PolicyStatement({ actions: ['iam:CreateAccessKey'], resources: ['*'] });

describe('cdk-nag AwsSolutions', () => {
  it.each(['aws', 'local'])('finds nothing unacknowledged in the %s profile', (profile) => {
    // Act + Assess
    expect(synthWithNag({ profile, alertEmail: 'team@example.org' })).not.toThrow();
  });

  it('still fails the synth on a new wildcard (the checks are live)', () => {
    // Prepare
    const tampered = synthWithNag({ profile: 'local' }, (stack) => {
      new iam.Role(stack, 'Careless', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }).addToPolicy(
        new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }),
      );
    });

    // Act + Assess
    expect(tampered).toThrow(/AwsSolutions-IAM5\[Action::s3:\*\]/);
  });

  it.each([
    [
      'a function role (its X-Ray writes on "*" acknowledged)',
      'Functions/ValidateInputRole/DefaultPolicy/Resource',
      (stack: QuantumPipelineStack) => stack.functions.functions['validate-input'].role!,
    ],
    [
      'a state machine role (its tracing and log delivery on "*" acknowledged)',
      'FeatureProcessing/StateMachine/Role/DefaultPolicy/Resource',
      (stack: QuantumPipelineStack) => stack.pipeline.stateMachine.role,
    ],
    [
      'a batch function role (its SSM status reads on "*" acknowledged too)',
      'VqeBatch/VqeBatchCheckRunRole/DefaultPolicy/Resource',
      (stack: QuantumPipelineStack) => stack.vqeBatch!.functions['check-run'].role!,
    ],
  ])('fails the synth when %s gets iam:CreateAccessKey on "*"', (_name, path, roleOf) => {
    // Prepare: the batch with an SSM host, so that check-run holds its own actions on "*"
    const tampered = synthWithNag({ batch: { host: { instanceId: 'i-0123456789abcdef0' } } }, (stack) =>
      roleOf(stack).addToPrincipalPolicy(createAccessKey()),
    );

    // Act + Assess
    expect(tampered).toThrow(
      new RegExp(`QuantumPipeline/${path}[^\\n]*\\n[^\\n]*AwsSolutions-IAM5\\[Resource::\\*\\]`),
    );
  });
});

describe('nag acknowledgement helpers', () => {
  function roleInBareStack(): { app: App; stack: Stack; role: iam.Role } {
    const app = new App();
    const stack = new Stack(app, 'Test');
    return {
      app,
      stack,
      role: new iam.Role(stack, 'Role', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') }),
    };
  }

  it('refuses to acknowledge IAM5[Resource::*] as such, which would excuse any action on "*"', () => {
    // Prepare
    const { role } = roleInBareStack();

    // Act + Assess
    expect(() => acknowledge(role, ['IAM5[Resource::*]'], 'anything')).toThrow(
      'acknowledge: IAM5[Resource::*] on Test/Role excuses any action on "*"; use acknowledgeUnscopedActions, naming the actions',
    );
  });

  it('names a granted object pattern as cdk-nag does, from the same ARN expression', () => {
    // Prepare
    const stack = new Stack(new App(), 'Test');
    const bucket = new s3.Bucket(stack, 'Data');
    const bucketId = stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket);

    // Act
    const finding = wildcardResource(stack, bucket.arnForObjects('runs/*'));

    // Assess
    expect(finding).toBe(`IAM5[Resource::<${bucketId}.Arn>/runs/*]`);
    expect(wildcardResource(stack, stack.formatArn({ service: 'glue', resource: 'table', resourceName: 'ns/*' }))).toBe(
      'IAM5[Resource::arn:<AWS::Partition>:glue:<AWS::Region>:<AWS::AccountId>:table/ns/*]',
    );
    expect(wildcardActions(['s3:List*'])).toEqual(['IAM5[Action::s3:List*]']);
  });

  it('acknowledges actions on "*" only while they are the named ones, across several calls', () => {
    // Prepare
    const { app, role } = roleInBareStack();
    role.addToPolicy(new iam.PolicyStatement({ actions: ['xray:PutTraceSegments'], resources: ['*'] }));
    role.addToPolicy(new iam.PolicyStatement({ actions: ['ssm:CancelCommand'], resources: ['*'] }));

    // Act
    acknowledgeUnscopedActions(role, ['xray:PutTraceSegments'], 'tracing');
    acknowledgeUnscopedActions(role, ['ssm:CancelCommand'], 'status reads');

    // Assess
    expect(unacknowledgedIam5(app)).toEqual([]);
  });

  it('leaves IAM5[Resource::*] reported when another action on "*" joins the named ones', () => {
    // Prepare
    const { app, role } = roleInBareStack();
    role.addToPolicy(new iam.PolicyStatement({ actions: ['xray:PutTraceSegments'], resources: ['*'] }));
    acknowledgeUnscopedActions(role, ['xray:PutTraceSegments'], 'tracing');

    // Act
    role.addToPolicy(createAccessKey());

    // Assess
    expect(unacknowledgedIam5(app)).toEqual(['AwsSolutions-IAM5[Resource::*] @ Test/Role/DefaultPolicy/Resource']);
  });
});
