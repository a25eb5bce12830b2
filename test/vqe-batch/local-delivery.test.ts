/**
 * The local launchers' delivery: the process launcher runs real processes, gives the program its
 * output arguments, and uploads a host-upload run's folder once it exited 0; the uploader's
 * PutObject calls are checked at the SDK boundary.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { RECORDS_UPLOAD_EXIT_CODE } from '../../lambdas/vqe-batch/delivery';
import type { Launcher, RunHandle, RunRecords, RunStatus } from '../../lambdas/vqe-batch/launcher';
import { ProcessLauncher } from '../../localstack/embedded/launchers/process';
import { type RecordsUploader, recordFiles, S3FolderUploader } from '../../localstack/embedded/launchers/records';

const runsDir = mkdtempSync(join(tmpdir(), 'qp-local-delivery-'));
afterAll(() => rmSync(runsDir, { recursive: true, force: true }));
const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

const PREFIX = 'experiments/experiment.vqe/qp-run-0badcafe/attempt-1/';
const records = (mode: RunRecords['mode']): RunRecords => ({
  mode,
  bucket: 'raw-results',
  prefix: PREFIX,
  flag: mode === 'direct' ? '--output' : '--output-dir',
});

/** Writes one record into the folder its last argument names (mini-VQE's --output-dir), echoing its arguments. */
const WRITE_RECORD = 'echo "$*"; for last; do :; done; echo "{}" >"$last/000000-1.json"; echo half >"$last/.x.partial"';

class RecordingUploader implements RecordsUploader {
  readonly uploads: Array<{ folder: string; bucket: string; prefix: string; files: string[] }> = [];
  constructor(private readonly failure?: Error) {}
  async upload(folder: string, bucket: string, prefix: string) {
    if (this.failure) throw this.failure;
    const files = recordFiles(folder);
    this.uploads.push({ folder, bucket, prefix, files });
    return files.length;
  }
}

async function waitForExit(launcher: Launcher, handle: RunHandle): Promise<RunStatus> {
  for (const until = Date.now() + 10_000; ; ) {
    const status = await launcher.status(handle);
    if (status.state === 'exited' || Date.now() > until) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('ProcessLauncher delivery', () => {
  it('host-upload: gives the program <run folder>/records and uploads it (no dot-files) once it exited 0', async () => {
    // Prepare
    const uploader = new RecordingUploader();
    const launcher = new ProcessLauncher({ command: ['/bin/sh', '-c', WRITE_RECORD, 'run'], runsDir, uploader });

    // Act
    const handle = await launcher.launch({
      runKey: 'cpu/a/seed-1',
      args: ['--seed', '1'],
      records: records('host-upload'),
    });
    const status = await waitForExit(launcher, handle);

    // Assess
    const folder = join((handle as Extract<RunHandle, { kind: 'process' }>).runDir, 'records');
    expect(status).toEqual({ state: 'exited', exitCode: 0, stderrTail: '' });
    expect(uploader.uploads).toEqual([{ folder, bucket: 'raw-results', prefix: PREFIX, files: ['000000-1.json'] }]);
  });

  it(`host-upload: a failed upload makes the run exit ${RECORDS_UPLOAD_EXIT_CODE}, naming the folder and the target`, async () => {
    // Prepare
    const uploader = new RecordingUploader(new Error('AccessDenied'));
    const launcher = new ProcessLauncher({ command: ['/bin/sh', '-c', WRITE_RECORD, 'run'], runsDir, uploader });

    // Act
    const handle = await launcher.launch({ runKey: 'cpu/a/seed-2', args: [], records: records('host-upload') });
    const status = await waitForExit(launcher, handle);

    // Assess
    expect(status).toMatchObject({
      state: 'exited',
      exitCode: RECORDS_UPLOAD_EXIT_CODE,
      detail: expect.stringMatching(
        /records\/? could not be uploaded to s3:\/\/raw-results\/experiments\/.*attempt-1\/: AccessDenied$/,
      ),
    });
  });

  it('host-upload: uploads nothing when the program fails', async () => {
    // Prepare
    const uploader = new RecordingUploader();
    const launcher = new ProcessLauncher({
      command: ['/bin/sh', '-c', `${WRITE_RECORD}; exit 4`, 'run'],
      runsDir,
      uploader,
    });

    // Act
    const status = await waitForExit(
      launcher,
      await launcher.launch({ runKey: 'cpu/a/seed-3', args: [], records: records('host-upload') }),
    );

    // Assess
    expect(status).toMatchObject({ state: 'exited', exitCode: 4 });
    expect(uploader.uploads).toEqual([]);
  });

  it('direct: gives the program the s3:// prefix and uploads nothing itself', async () => {
    // Prepare
    const uploader = new RecordingUploader();
    const launcher = new ProcessLauncher({ command: ['/bin/sh', '-c', 'echo "$*" >&2', 'run'], runsDir, uploader });

    // Act
    const status = await waitForExit(
      launcher,
      await launcher.launch({ runKey: 'cpu/a/seed-4', args: ['--seed', '4'], records: records('direct') }),
    );

    // Assess
    expect(status).toEqual({
      state: 'exited',
      exitCode: 0,
      stderrTail: `--seed 4 --output s3://raw-results/${PREFIX}\n`,
    });
    expect(uploader.uploads).toEqual([]);
  });

  it('refuses a host-upload run without an uploader, naming the setting', async () => {
    // Prepare
    const launcher = new ProcessLauncher({ command: ['/bin/true'], runsDir });

    // Act + Assess
    await expect(
      launcher.launch({ runKey: 'cpu/a/seed-5', args: [], records: records('host-upload') }),
    ).rejects.toMatchObject({
      name: 'RunLaunchError',
      message: 'run cpu/a/seed-5: delivery host-upload needs an uploader (ProcessLauncher.uploader)',
    });
  });
});

describe('S3FolderUploader', () => {
  it('puts every file of the folder, nested ones included, below the prefix, leaving out dot-files', async () => {
    // Prepare
    const folder = mkdtempSync(join(runsDir, 'folder-'));
    mkdirSync(join(folder, 'more'));
    writeFileSync(join(folder, '000000-1.json'), '{"a": 1}');
    writeFileSync(join(folder, 'more', 'batch.avro'), 'Obj');
    writeFileSync(join(folder, '.000001-2.json.partial'), '{');
    s3.on(PutObjectCommand).resolves({ $metadata: { httpStatusCode: 200 }, ETag: '"e"' });

    // Act
    const count = await new S3FolderUploader(new S3Client({ region: 'garage' })).upload(folder, 'raw-results', PREFIX);

    // Assess
    expect(count).toBe(2);
    expect(
      s3.commandCalls(PutObjectCommand).map(({ args: [{ input }] }) => [input.Bucket, input.Key, input.ContentType]),
    ).toEqual([
      ['raw-results', `${PREFIX}000000-1.json`, 'application/json'],
      ['raw-results', `${PREFIX}more/batch.avro`, 'application/octet-stream'],
    ]);
  });
});
