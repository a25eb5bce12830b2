/**
 * How the runs' records reach raw-results, in the template: host-upload fixes the upload in the
 * run document and lets the GPU host's role put objects below the records prefix and nowhere
 * else (or says in an output what that role needs); direct leaves both out; check-run may list
 * the records; bad settings fail the synth naming the field and the value.
 */
import { Stack } from 'aws-cdk-lib';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../infra/config';
import { resolveValue } from '../../localstack/embedded/definition';
import { type Synthesized, synth } from './support';

const HOST = { instanceId: 'i-0123456789abcdef0' };
const HOST_ROLE = 'arn:aws:iam::000000000000:role/gpu-host';
const PREFIX = 'experiments/experiment.vqe/';

interface Statement {
  readonly Action: string | string[];
  readonly Resource: unknown;
  readonly Effect: string;
  readonly Principal?: unknown;
}

const actionsOf = (st: Statement) => ([] as string[]).concat(st.Action).sort();
const resourcesOf = (s: Synthesized, st: Statement) =>
  ([] as unknown[]).concat(st.Resource).map((value) => resolveValue(s.json, value));

/** The raw bucket's objects below `pattern`, resolved as the statements are. */
function rawObjects(s: Synthesized, pattern: string): string {
  return resolveValue(s.json, Stack.of(s.stack).resolve(s.stack.buckets.rawResults.arnForObjects(pattern)));
}

function runDocumentOf(s: Synthesized) {
  const [document] = Object.values(s.template.findResources('AWS::SSM::Document'));
  return document.Properties.Content as {
    parameters: Record<string, { allowedPattern?: string; default?: string }>;
    mainSteps: Array<{ inputs: { runCommand: unknown[] } }>;
  };
}

const hostStatements = (s: Synthesized): Statement[] =>
  Object.values(s.template.findResources('AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes('gpu-host'))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);

/** The Allow statements of the raw bucket's policy (its Deny of plain HTTP left out). */
const rawBucketAllows = (s: Synthesized): Statement[] =>
  Object.entries(s.template.findResources('AWS::S3::BucketPolicy'))
    .filter(([id]) => id.includes('RawResults'))
    .flatMap(([, policy]) => policy.Properties.PolicyDocument.Statement as Statement[])
    .filter((st) => st.Effect === 'Allow');

function checkRunStatements(s: Synthesized): Statement[] {
  const role = s.stack.getLogicalId(s.stack.vqeBatch!.functions['check-run'].role!.node.defaultChild as never);
  return Object.values(s.template.findResources('AWS::IAM::Policy'))
    .filter((policy) => JSON.stringify(policy.Properties.Roles).includes(`"${role}"`))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Statement[]);
}

describe('VQE batch delivery host-upload (the default)', () => {
  it("lets the GPU host's role put objects below the records prefix only, in its own policy and the bucket's", () => {
    // Act
    const s = synth({ batch: { host: HOST, hostRoleArn: HOST_ROLE } });

    // Assess
    const statements = hostStatements(s);
    expect(statements).toHaveLength(1);
    expect(statements[0].Effect).toBe('Allow');
    expect(actionsOf(statements[0])).toContain('s3:PutObject');
    expect(actionsOf(statements[0]).filter((action) => /Get|Delete|List/.test(action))).toEqual([]);
    expect(resourcesOf(s, statements[0])).toEqual([rawObjects(s, `${PREFIX}*`)]);
    // The stack's account is unknown at synth, so grantPut also names the role in the bucket's
    // policy (what a role of another account would need): the same actions and prefix only.
    const allows = rawBucketAllows(s);
    expect(allows.map((st) => [st.Principal, actionsOf(st), resourcesOf(s, st)])).toEqual([
      [{ AWS: HOST_ROLE }, actionsOf(statements[0]), [rawObjects(s, `${PREFIX}*`)]],
    ]);
  });

  it("without a host role, grants nothing and puts the policy the host's role needs in the HostRecordsPolicy output", () => {
    // Act
    const s = synth({ batch: { host: HOST } });

    // Assess: and nothing in the bucket's policy (a grant to an unknown principal would land there)
    expect(hostStatements(s)).toEqual([]);
    expect(rawBucketAllows(s)).toEqual([]);
    const outputs = Object.entries(s.template.findOutputs('*')).filter(([id]) => id.includes('HostRecordsPolicy'));
    expect(outputs).toHaveLength(1);
    const document = JSON.parse(resolveValue(s.json, outputs[0][1].Value)) as { Statement: Statement[] };
    expect(document.Statement).toHaveLength(1);
    expect(actionsOf(document.Statement[0])).toContain('s3:PutObject');
    expect(resourcesOf(s, document.Statement[0])).toEqual([rawObjects(s, `${PREFIX}*`)]);
  });

  it('fixes the bucket, the region and the host folder in the run document; an invoker chooses only the run prefix below the root', () => {
    // Act
    const s = synth({ batch: { host: HOST, delivery: { hostDir: '/srv/qp/records' } } });
    const document = runDocumentOf(s);
    const script = document.mainSteps[0].inputs.runCommand.map((line) => resolveValue(s.json, line)).join('\n');
    const bucket = resolveValue(s.json, Stack.of(s.stack).resolve(s.stack.buckets.rawResults.bucketName));

    // Assess
    const pattern = new RegExp(document.parameters.recordsPrefix.allowedPattern ?? '');
    expect(pattern.test(`${PREFIX}qp-cpu-sto3g-h2-0123abcd/attempt-1/`)).toBe(true);
    expect(pattern.test('features/warehouse/')).toBe(false);
    expect(script).toContain(`qp_dir='/srv/qp/records'/"$name"`);
    expect(script).toContain(`-v "$qp_dir:/qp-records" '{{ image }}' {{ args }}`);
    expect(script).toContain(`--region 'us-east-1'`);
    expect(script).toContain(`"$qp_dir/" "s3://${bucket}/$qp_prefix"`);
  });

  it('deploys the delivery in the settings, and lets check-run list and read the records prefix only', () => {
    // Act
    const s = synth({ batch: { host: HOST, delivery: { folderFlag: '--results-dir' } } });

    // Assess
    const settings = JSON.parse(
      resolveValue(
        s.json,
        (
          s.json.Resources[s.stack.getLogicalId(s.stack.vqeBatch!.functions['check-run'].node.defaultChild as never)]
            .Properties as { Environment: { Variables: { BATCH_SETTINGS: unknown } } }
        ).Environment.Variables.BATCH_SETTINGS,
      ),
    );
    expect(settings.delivery).toMatchObject({
      mode: 'host-upload',
      prefix: PREFIX,
      folderFlag: '--results-dir',
      s3Flag: '--output',
    });
    const reads = checkRunStatements(s).filter((st) => actionsOf(st).includes('s3:List*'));
    expect(reads.flatMap((st) => resourcesOf(s, st))).toContain(rawObjects(s, `${PREFIX}*`));
    expect(
      checkRunStatements(s)
        .filter((st) => actionsOf(st).includes('s3:PutObject'))
        .flatMap((st) => resourcesOf(s, st)),
    ).not.toContain(rawObjects(s, `${PREFIX}*`));
  });
});

describe('VQE batch delivery direct', () => {
  it('leaves the upload out of the run document and grants the host nothing', () => {
    // Act
    const s = synth({ batch: { host: HOST, hostRoleArn: HOST_ROLE, delivery: { mode: 'direct' } } });

    // Assess
    const document = runDocumentOf(s);
    expect(document.parameters.recordsPrefix).toBeUndefined();
    expect(JSON.stringify(document.mainSteps)).not.toContain('aws s3');
    expect(hostStatements(s)).toEqual([]);
    expect(rawBucketAllows(s)).toEqual([]);
    expect(Object.keys(s.template.findOutputs('*')).filter((id) => id.includes('HostRecordsPolicy'))).toEqual([]);
  });
});

describe('VQE batch delivery settings', () => {
  it.each([
    [{ mode: 'kafka' }, /batch\.delivery\.mode: .*got "kafka"/],
    [{ folderFlag: 'output-dir' }, /batch\.delivery\.folderFlag: expected a --flag/],
    [
      { hostDir: 'records' },
      /batch\.delivery\.hostDir: expected an absolute folder of letters, digits and _\.@\+-, got "records"/,
    ],
    [{ hostDir: '/srv/q p' }, /batch\.delivery\.hostDir: expected an absolute folder .*, got "\/srv\/q p"/],
  ])('refuses the config delivery %j, naming the field and the value', (delivery, message) => {
    // Act + Assess
    expect(() => loadConfig({ batch: { host: HOST, delivery } })).toThrow(ConfigError);
    expect(() => loadConfig({ batch: { host: HOST, delivery } })).toThrow(message);
  });

  it("refuses a host folder among the host's system folders at synth, naming it", () => {
    // Act + Assess
    expect(() => synth({ batch: { host: HOST, delivery: { hostDir: '/etc/qp' } } })).toThrow(
      /delivery\.hostDir: mounts the host's \/etc folder, got "\/etc\/qp"/,
    );
  });

  it('carries the run count of records in the "VQE Batch Finished" event', () => {
    // Act
    const s = synth({ batch: { host: HOST } });

    // Assess
    expect(JSON.stringify(s.json)).toContain('\\"records.$\\":\\"$.summary.result.records\\"');
  });
});
