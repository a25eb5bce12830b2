/**
 * Delivery host-upload on the GPU host: the run document (its parameters substituted and checked
 * as SSM does, then run by a real shell with stand-ins for `docker` and `aws`) mounts a run
 * folder, uploads it on exit 0 and only then; and the SSM launcher's parameters for both
 * delivery modes.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SSMClient } from '@aws-sdk/client-ssm';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RECORDS_UPLOAD_EXIT_CODE, runRecordsPrefix } from '../../lambdas/vqe-batch/delivery';
import { runDocumentContent } from '../../lambdas/vqe-batch/host-commands';
import { hostUploadProblems } from '../../lambdas/vqe-batch/host-upload';
import { containerNameFor, type RunRecords } from '../../lambdas/vqe-batch/launcher';
import { invocationStatus, SsmLauncher } from '../../lambdas/vqe-batch/launchers/ssm';
import { type CommandDocument, render } from './ssm-document';

const IMAGE = 'ghcr.io/qp/vqe:1.2';
const RUN_KEY = 'cpu/sto3g/HeH+/L-BFGS-B/EfficientSU2/hf/seed-3';
const NAME = containerNameFor(RUN_KEY);
const ROOT = 'experiments/experiment.vqe/';
const PREFIX = runRecordsPrefix(ROOT, RUN_KEY, 2);

let work: string;
let hostDir: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), 'qp-host-upload-'));
  hostDir = join(work, 'records');
  mkdirSync(join(work, 'bin'));
  // docker: logs its words; `run` writes a record and a half-written dot-file into the folder
  // mounted at /qp-records, then exits with $QP_TEST_RUN_EXIT.
  writeFileSync(
    join(work, 'bin', 'docker'),
    `#!/bin/sh
{ echo '>'; for word in "$@"; do printf '%s\\n' "$word"; done; } >>"${join(work, 'docker-calls')}"
[ "$1" = rm ] && exit 1
if [ "$1" = run ]; then
  for word in "$@"; do case "$word" in *:/qp-records) dir=\${word%:/qp-records};; esac; done
  echo '{"record": 1}' >"$dir/000000-1.json"; echo 'half' >"$dir/.000001-2.json.partial"
  exit "\${QP_TEST_RUN_EXIT:-0}"
fi
exit 0
`,
  );
  // aws: a secret lookup answers a value; `s3 cp` logs its words, what it would copy and whether
  // a secret-named credential reached it, then exits with $QP_TEST_AWS_EXIT.
  writeFileSync(
    join(work, 'bin', 'aws'),
    `#!/bin/sh
[ "$1" = secretsmanager ] && { echo 'container-only-secret'; exit 0; }
{ for word in "$@"; do printf '%s\\n' "$word"; done; for last in "$@"; do src=$dst; dst=$last; done; ls -A "$src"; echo "credential:\${AWS_SECRET_ACCESS_KEY-unset}"; } >"${join(work, 'aws-call')}"
exit "\${QP_TEST_AWS_EXIT:-0}"
`,
  );
  chmodSync(join(work, 'bin', 'docker'), 0o755);
  chmodSync(join(work, 'bin', 'aws'), 0o755);
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

function documentFor(extra: Partial<Parameters<typeof runDocumentContent>[0]> = {}) {
  return runDocumentContent({
    image: IMAGE,
    dockerRunOptions: ['--shm-size=8g'],
    hostUpload: { bucket: 'qp-raw-results', prefix: ROOT, hostDir, region: 'eu-west-1' },
    ...extra,
  });
}

/** Runs the rendered document with the stand-ins; its exit code, stderr, docker's calls and aws's call. */
function runDocument(
  content: Record<string, unknown>,
  values: Record<string, string>,
  env: Record<string, string> = {},
) {
  const script = render(content, { action: 'run', containerName: NAME, image: IMAGE, args: '--seed 3', ...values });
  // As on an EC2 host, whose credentials come from the instance role, not the environment.
  const { AWS_SECRET_ACCESS_KEY: _hostless, ...base } = process.env;
  const shell = spawnSync('sh', ['-c', script], {
    env: { ...base, PATH: `${join(work, 'bin')}:${process.env.PATH}`, ...env },
    encoding: 'utf8',
  });
  const read = (file: string) => (existsSync(join(work, file)) ? readFileSync(join(work, file), 'utf8') : undefined);
  const dockerRuns = (read('docker-calls') ?? '')
    .split('>\n')
    .filter(Boolean)
    .map((call) => call.replace(/\n$/, '').split('\n'))
    .filter((call) => call[0] === 'run');
  return { status: shell.status, stderr: shell.stderr, dockerRuns, aws: read('aws-call')?.split('\n') };
}

describe('the run document with delivery host-upload', () => {
  it('adds the recordsPrefix parameter, which takes only a run prefix below the fixed root (or nothing, for stop)', () => {
    // Act
    const { parameters } = documentFor() as unknown as CommandDocument;
    const pattern = new RegExp(parameters.recordsPrefix.allowedPattern ?? '');

    // Assess
    expect(parameters.recordsPrefix.default).toBe('');
    for (const good of ['', PREFIX, runRecordsPrefix(ROOT, 'gpu1/sto3g/NH3/TNC/EfficientSU2/random/seed-25', 1)]) {
      expect(pattern.test(good), good).toBe(true);
    }
    for (const bad of [
      `${ROOT}../features/x/`,
      `experiments/other/${NAME}/attempt-1/`,
      `${ROOT}${NAME}/attempt-1`,
      `${ROOT}${NAME}/attempt-1/'; rm -rf /; '/`,
      `${ROOT}${NAME}/attempt-1/extra/`,
    ]) {
      expect(pattern.test(bad), bad).toBe(false);
    }
  });

  it('mounts a fresh run folder, runs the image, and on exit 0 uploads the folder (no dot-files) to the run prefix, then removes it', () => {
    // Prepare: a leftover of an earlier launch of the same run
    mkdirSync(join(hostDir, NAME), { recursive: true });
    writeFileSync(join(hostDir, NAME, 'stale.json'), '{}');

    // Act
    const { status, dockerRuns, aws } = runDocument(documentFor(), { recordsPrefix: PREFIX });

    // Assess
    expect(status).toBe(0);
    expect(dockerRuns).toHaveLength(1);
    expect(dockerRuns[0]).toEqual([
      'run',
      '--rm',
      '--name',
      NAME,
      '--shm-size=8g',
      '-v',
      `${join(hostDir, NAME)}:/qp-records`,
      IMAGE,
      '--seed',
      '3',
    ]);
    expect(aws?.slice(0, 14)).toEqual([
      's3',
      'cp',
      '--recursive',
      '--only-show-errors',
      '--region',
      'eu-west-1',
      '--exclude',
      '.*',
      '--exclude',
      '*/.*',
      `${join(hostDir, NAME)}/`,
      `s3://qp-raw-results/${PREFIX}`,
      // what the folder held at upload time: the new record only (the leftover was removed first)
      '.000001-2.json.partial',
      '000000-1.json',
    ]);
    expect(existsSync(join(hostDir, NAME))).toBe(false);
  });

  it('uploads nothing when the container fails, and exits with its code', () => {
    // Act
    const { status, aws } = runDocument(documentFor(), { recordsPrefix: PREFIX }, { QP_TEST_RUN_EXIT: '3' });

    // Assess
    expect(status).toBe(3);
    expect(aws).toBeUndefined();
  });

  it(`exits ${RECORDS_UPLOAD_EXIT_CODE} when the upload fails, naming the target, and keeps the folder for a manual upload`, () => {
    // Act
    const { status, stderr } = runDocument(documentFor(), { recordsPrefix: PREFIX }, { QP_TEST_AWS_EXIT: '1' });

    // Assess
    expect(status).toBe(RECORDS_UPLOAD_EXIT_CODE);
    expect(stderr).toContain(
      `could not be uploaded to s3://qp-raw-results/${PREFIX}; they stay in ${join(hostDir, NAME)}`,
    );
    expect(readdirSync(join(hostDir, NAME))).toContain('000000-1.json');
  });

  it('refuses a run without recordsPrefix before starting a container', () => {
    // Act
    const { status, stderr, dockerRuns } = runDocument(documentFor(), {});

    // Assess
    expect(status).toBe(2);
    expect(stderr).toContain('recordsPrefix is required with action=run');
    expect(dockerRuns).toEqual([]);
  });

  it("uploads with the host's own credentials: a container secret named like one is unset for the upload", () => {
    // Prepare
    const content = documentFor({
      containerSecrets: { AWS_SECRET_ACCESS_KEY: { secretsManager: 'team/s3-writer' } },
      region: 'eu-west-1',
    });

    // Act
    const { status, dockerRuns, aws } = runDocument(content, { recordsPrefix: PREFIX });

    // Assess
    expect(status).toBe(0);
    expect(dockerRuns[0]).toContain('AWS_SECRET_ACCESS_KEY'); // the container gets it (-e NAME)
    expect(aws).toContain('credential:unset');
  });

  it('keeps the direct-mode document as it was: exec docker run, no recordsPrefix, no upload', () => {
    // Act
    const content = runDocumentContent({ image: IMAGE, dockerRunOptions: [] }) as unknown as CommandDocument;

    // Assess
    expect(content.parameters.recordsPrefix).toBeUndefined();
    expect(content.mainSteps[0].inputs.runCommand.join('\n')).not.toContain('aws s3');
    expect(content.mainSteps[0].inputs.runCommand.at(-1)).toMatch(/^exec docker run /);
  });

  it.each([
    [
      { prefix: 'experiments/x', hostDir: '/srv/qp' },
      'delivery.prefix: expected folders of letters, digits and _.- ending in /, got "experiments/x"',
    ],
    [
      { prefix: ROOT, hostDir: 'relative/dir' },
      'delivery.hostDir: expected an absolute folder of letters, digits and _.@+-, got "relative/dir"',
    ],
    [
      { prefix: ROOT, hostDir: "/srv/q'p" },
      `delivery.hostDir: expected an absolute folder of letters, digits and _.@+-, got "/srv/q'p"`,
    ],
    [
      { prefix: ROOT, hostDir: '/srv/../etc' },
      'delivery.hostDir: expected an absolute folder of letters, digits and _.@+-, got "/srv/../etc"',
    ],
  ])('refuses the settings %j, naming the field and the value', (settings, message) => {
    // Act + Assess
    expect(hostUploadProblems(settings)).toEqual([message]);
    expect(() => documentFor({ hostUpload: { bucket: 'b', region: 'eu-west-1', ...settings } })).toThrow(message);
  });
});

describe('SsmLauncher with a run records target', () => {
  const launcher = new SsmLauncher(new SSMClient({ region: 'eu-west-1' }), {
    target: { instanceId: 'i-0abc' },
    image: IMAGE,
    documents: { run: 'qp-run' },
    commandTimeoutSeconds: 7200,
    recordsPrefix: ROOT,
  });
  const records = (mode: RunRecords['mode'], prefix = PREFIX): RunRecords => ({
    mode,
    bucket: 'qp-raw-results',
    prefix,
    flag: mode === 'direct' ? '--output' : '--output-dir',
  });

  it('host-upload: tells the image the mounted folder and sends the run prefix as recordsPrefix', () => {
    // Act
    const parameters = launcher.runParameters({
      runKey: RUN_KEY,
      args: ['--seed', '3'],
      records: records('host-upload'),
    });

    // Assess
    expect(parameters.args).toEqual(['--seed 3 --output-dir /qp-records']);
    expect(parameters.recordsPrefix).toEqual([PREFIX]);
  });

  it('direct: tells the image the s3:// run prefix and sends no recordsPrefix', () => {
    // Act
    const parameters = launcher.runParameters({ runKey: RUN_KEY, args: ['--seed', '3'], records: records('direct') });

    // Assess
    expect(parameters.args).toEqual([`--seed 3 --output s3://qp-raw-results/${PREFIX}`]);
    expect(parameters.recordsPrefix).toBeUndefined();
  });

  it('refuses a run prefix outside the records root before SendCommand, naming it', () => {
    // Act + Assess
    expect(() =>
      launcher.runParameters({ runKey: RUN_KEY, args: [], records: records('host-upload', 'features/warehouse/x/') }),
    ).toThrow(
      /^run .*: refused before SendCommand: parameter recordsPrefix does not match .*, got "features\/warehouse\/x\/"$/,
    );
  });

  it(`reads exit code ${RECORDS_UPLOAD_EXIT_CODE} of the run document as a failed upload on the host`, () => {
    // Act
    const status = invocationStatus({
      Status: 'Failed',
      ResponseCode: RECORDS_UPLOAD_EXIT_CODE,
      StandardErrorContent: 'AccessDenied',
    });

    // Assess
    expect(status).toEqual({
      state: 'exited',
      exitCode: RECORDS_UPLOAD_EXIT_CODE,
      stderrTail: 'AccessDenied',
      detail: 'the run folder could not be made or its records uploaded on the host',
    });
  });
});
