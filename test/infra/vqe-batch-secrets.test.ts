/**
 * Container secrets of the VQE batch in the template: the run document names the secrets (never a
 * value), the GPU host's role gets read of exactly those secrets, or an output says what it needs,
 * and every bad setting fails the synth naming the field and the value.
 */
import { App, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/assemble';
import { loadConfig } from '../../infra/config';
import { VqeBatch } from '../../infra/vqe-batch/vqe-batch';
import { resolveValue } from '../../localstack/embedded/definition';
import { fakeSparkArtifacts, type Synthesized, synth } from './support';

const HOST = { instanceId: 'i-0123456789abcdef0' };
const SECRET_ARN = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:team/kafka-AbCdEf';
const SECRETS = {
  DB_PASSWORD: { secretsManager: 'prod/db' },
  KAFKA_PASSWORD: { secretsManager: SECRET_ARN },
  API_TOKEN: { ssmParameter: '/qp/api-token' },
};
const HOST_ROLE = 'arn:aws:iam::000000000000:role/gpu-host';
/** Resolved as support.ts resolves pseudo parameters. */
const REGION = 'us-east-1';
const ACCOUNT = '000000000000';

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
}

const EXPECTED_GRANTS = [
  {
    actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
    resources: [`arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:prod/db-??????`],
  },
  { actions: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'], resources: [SECRET_ARN] },
  {
    actions: ['ssm:DescribeParameters', 'ssm:GetParameter', 'ssm:GetParameterHistory', 'ssm:GetParameters'],
    resources: [`arn:aws:ssm:${REGION}:${ACCOUNT}:parameter/qp/api-token`],
  },
];

function runScriptOf(s: Synthesized): string {
  const [document] = Object.values(s.template.findResources('AWS::SSM::Document'));
  const content = document.Properties.Content as { mainSteps: Array<{ inputs: { runCommand: unknown[] } }> };
  return content.mainSteps[0].inputs.runCommand.map((line) => resolveValue(s.json, line)).join('\n');
}

function hostPolicies(s: Synthesized) {
  return Object.values(s.template.findResources('AWS::IAM::Policy')).filter((policy) =>
    JSON.stringify(policy.Properties.Roles).includes('gpu-host'),
  );
}

describe('VQE batch container secrets', () => {
  it('reads each secret on the host by its name in the run document, in the stack region, and passes -e NAME only', () => {
    // Act
    const s = synth({ batch: { host: HOST, containerSecrets: SECRETS } });
    const script = runScriptOf(s);

    // Assess
    expect(script).toContain(
      `qp_secret_0=$(aws secretsmanager get-secret-value --region '${REGION}' --secret-id 'prod/db' --query SecretString --output text)`,
    );
    expect(script).toContain(`--region 'eu-west-1' --secret-id '${SECRET_ARN}'`);
    expect(script).toContain(
      `qp_secret_2=$(aws ssm get-parameter --region '${REGION}' --name '/qp/api-token' --with-decryption --query Parameter.Value --output text)`,
    );
    expect(script).toContain('-e DB_PASSWORD -e KAFKA_PASSWORD -e API_TOKEN');
    expect(script).not.toMatch(/-e [A-Z_]+=/);
  });

  it('keeps the secrets out of the functions: their settings name no secret', () => {
    // Act
    const s = synth({ batch: { host: HOST, containerSecrets: SECRETS } });

    // Assess
    const environments = JSON.stringify(
      Object.values(s.template.findResources('AWS::Lambda::Function')).flatMap((fn) =>
        Object.values((fn.Properties.Environment?.Variables ?? {}) as Record<string, unknown>).map((value) =>
          resolveValue(s.json, value),
        ),
      ),
    );
    expect(environments).toContain('commandTimeoutSeconds'); // the batch functions' settings are among them
    for (const word of ['prod/db', 'api-token', 'DB_PASSWORD', 'team/kafka']) expect(environments).not.toContain(word);
  });

  it("grants the host's role read of exactly those secrets when batch.hostRoleArn is set", () => {
    // Act
    // Delivery direct: the host role gets the secrets only (the upload grant: vqe-batch-delivery.test.ts).
    const s = synth({
      batch: { host: HOST, containerSecrets: SECRETS, hostRoleArn: HOST_ROLE, delivery: { mode: 'direct' } },
    });

    // Assess
    const [policy, ...others] = hostPolicies(s);
    expect(others).toEqual([]);
    expect(policy.Properties.Roles).toEqual(['gpu-host']);
    const statements = policy.Properties.PolicyDocument.Statement as Statement[];
    expect(statements.every((st) => st.Effect === 'Allow')).toBe(true);
    expect(
      statements.map((st) => ({
        actions: ([] as string[]).concat(st.Action).sort(),
        resources: ([] as unknown[]).concat(st.Resource).map((value) => resolveValue(s.json, value)),
      })),
    ).toEqual(EXPECTED_GRANTS);
    expect(Object.keys(s.template.findOutputs('*')).filter((id) => id.includes('HostSecretsPolicy'))).toEqual([]);
  });

  it("without a host role, grants nothing and puts the policy the host's role needs in an output", () => {
    // Act
    const s = synth({ batch: { host: HOST, containerSecrets: SECRETS } });

    // Assess
    expect(hostPolicies(s)).toEqual([]);
    const outputs = Object.entries(s.template.findOutputs('*')).filter(([id]) => id.includes('HostSecretsPolicy'));
    expect(outputs).toHaveLength(1);
    const document = JSON.parse(resolveValue(s.json, outputs[0][1].Value)) as { Statement: Statement[] };
    expect(
      document.Statement.map((st) => ({
        actions: ([] as string[]).concat(st.Action).sort(),
        resources: ([] as unknown[]).concat(st.Resource),
      })),
    ).toEqual(EXPECTED_GRANTS);
  });

  it('adds nothing when there are no container secrets (and the container delivers its records itself)', () => {
    // Act
    const s = synth({ batch: { host: HOST, hostRoleArn: HOST_ROLE, delivery: { mode: 'direct' } } });

    // Assess
    expect(hostPolicies(s)).toEqual([]);
    expect(runScriptOf(s)).not.toContain('aws ');
  });

  it('stays clean under cdk-nag with the grants to the host role', () => {
    // Prepare
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const config = loadConfig({ batch: { host: HOST, containerSecrets: SECRETS, hostRoleArn: HOST_ROLE } });
    buildApp(app, config, fakeSparkArtifacts(), { nag: true });

    // Act + Assess
    expect(() => app.synth()).not.toThrow();
  });

  it.each([
    [
      { host: HOST, containerSecrets: { 'BAD-NAME': { secretsManager: 'x' } } },
      'batch.containerSecrets: expected an environment variable name [A-Za-z_][A-Za-z0-9_]*, got "BAD-NAME"',
    ],
    [
      { host: HOST, containerSecrets: { DB: { secretsManager: 'x y' } } },
      'batch.containerSecrets.DB.secretsManager: expected a secret name (letters, digits and /_+=.@-) or a complete secret ARN (with its 6-character suffix), got "x y"',
    ],
    [
      { host: HOST, containerSecrets: { DB: { ssmParameter: "a'b" } } },
      `batch.containerSecrets.DB.ssmParameter: expected a parameter name of letters, digits and _.- in /-separated parts, got "a'b"`,
    ],
    [
      { host: HOST, containerSecrets: { DB: { secretsManager: 'x' } }, dockerRunOptions: ['-e', 'DB'] },
      'batch.containerSecrets.DB: the docker run options set DB with -e as well; keep one of the two, got "DB"',
    ],
    [{ host: HOST, containerSecrets: { DB: { vault: 'x' } } }, 'batch.containerSecrets.DB'],
    [{ host: HOST, hostRoleArn: 'gpu-host' }, 'batch.hostRoleArn: expected an IAM role ARN'],
  ])('refuses the batch setting %j, naming the field and the value', (batch, message) => {
    // Act + Assess
    expect(() => loadConfig({ batch })).toThrow(message);
  });

  it('refuses container secrets on the local profile, where nothing would read them', () => {
    // Act + Assess
    expect(() =>
      loadConfig({ profile: 'local', batch: { containerSecrets: { DB: { secretsManager: 'x' } } } }),
    ).toThrow(
      'batch.containerSecrets: read on the GPU host by the SSM launcher only (aws profile), got ["DB"] on the local profile',
    );
  });

  it('refuses bad container secrets in the construct props too, naming the prop and the value', () => {
    // Prepare
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Alone');
    const make = () =>
      new VqeBatch(stack, 'Batch', {
        stateMachineName: 'batch',
        stateBucket: new s3.Bucket(stack, 'State'),
        moleculesFiles: { gpu1: 'a.json', gpu2: 'b.json', cpu: 'c.json' },
        launcher: {
          kind: 'ssm',
          target: HOST,
          image: 'ghcr.io/qp/vqe:1',
          dockerRunOptions: ['--env', 'TOKEN'],
          containerSecrets: { TOKEN: { ssmParameter: '/qp/token' }, PATH: { ssmParameter: '/qp/path' } },
        },
      });

    // Act + Assess
    expect(make).toThrow(
      'VqeBatch: launcher.containerSecrets.TOKEN: the docker run options set TOKEN with -e as well; keep one of the two, got "TOKEN"; ' +
        'launcher.containerSecrets: PATH is read by the run script or docker itself',
    );
  });
});
