/** cdk-nag AwsSolutions: both profiles synthesize with no unacknowledged finding. */
import { App, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/assemble';
import { loadConfig } from '../../infra/config';
import { fakeSparkArtifacts } from './support';

function synthWithNag(context: Record<string, unknown>, tamper?: (stack: Stack) => void): () => void {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = buildApp(app, loadConfig(context), fakeSparkArtifacts(), { nag: true });
  tamper?.(stack);
  return () => app.synth();
}

describe('cdk-nag AwsSolutions', () => {
  it.each(['aws', 'local'])('finds nothing unacknowledged in the %s profile', (profile) => {
    expect(synthWithNag({ profile, alertEmail: 'team@example.org' })).not.toThrow();
  });

  it('still fails the synth on a new wildcard (the checks are live)', () => {
    const tampered = synthWithNag({ profile: 'local' }, (stack) => {
      new iam.Role(stack, 'Careless', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') })
        .addToPolicy(new iam.PolicyStatement({ actions: ['s3:*'], resources: ['*'] }));
    });

    expect(tampered).toThrow(/AwsSolutions-IAM5\[Action::s3:\*\]/);
  });
});
