/**
 * The Docker Engine launcher's delivery against a small fake Engine API on a unix socket (no
 * Docker daemon runs here; the fake answers the v1.43 shapes the launcher reads): host-upload
 * binds a fresh run folder, tells the image where it is, and uploads the folder after exit 0.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RunRecords } from '../../lambdas/vqe-batch/launcher';
import { containerNameFor } from '../../lambdas/vqe-batch/launcher';
import { DockerEngineLauncher, RECORDS_UPLOAD_LABEL } from '../../localstack/embedded/launchers/docker';
import { type RecordsUploader, recordFiles } from '../../localstack/embedded/launchers/records';

interface Created {
  Cmd: string[];
  HostConfig: { Binds?: string[] };
  Labels: Record<string, string>;
}

/** Create, start, inspect (the container has exited with `exitCode`), logs, remove. */
function fakeEngine(socketPath: string, exitCode: number) {
  const created: Created[] = [];
  const server: Server = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
    });
    req.on('end', () => {
      const url = req.url ?? '';
      if (req.method === 'POST' && url.includes('/containers/create')) {
        created.push(JSON.parse(text) as Created);
        res.writeHead(201, { 'Content-Type': 'application/json' }).end(JSON.stringify({ Id: 'c1' }));
      } else if (req.method === 'POST' && url.endsWith('/start')) {
        res.writeHead(204).end();
      } else if (req.method === 'GET' && url.endsWith('/json')) {
        const last = created.at(-1);
        res
          .writeHead(200, { 'Content-Type': 'application/json' })
          .end(
            JSON.stringify({ State: { Status: 'exited', ExitCode: exitCode }, Config: { Labels: last?.Labels ?? {} } }),
          );
      } else if (req.method === 'GET' && url.includes('/logs')) {
        res.writeHead(200).end();
      } else if (req.method === 'DELETE') {
        res.writeHead(204).end();
      } else {
        res.writeHead(404, { 'Content-Type': 'application/json' }).end(JSON.stringify({ message: `no route ${url}` }));
      }
    });
  });
  return {
    created,
    start: () => new Promise<void>((resolve) => server.listen(socketPath, resolve)),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const RUN_KEY = 'cpu/sto3g/H2/COBYLA/EfficientSU2/hf/seed-1';
const PREFIX = `experiments/experiment.vqe/${containerNameFor(RUN_KEY)}/attempt-1/`;
const RECORDS: RunRecords = { mode: 'host-upload', bucket: 'raw-results', prefix: PREFIX, flag: '--output-dir' };

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qp-docker-delivery-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('DockerEngineLauncher delivery', () => {
  it('host-upload: binds a fresh run folder at /qp-records, points the image at it, and uploads it after exit 0', async () => {
    // Prepare: the "container" wrote its record into the bound folder by the time it is inspected
    const engine = fakeEngine(join(dir, 'docker.sock'), 0);
    await engine.start();
    const uploads: Array<[string, string, string, string[]]> = [];
    const uploader: RecordsUploader = {
      upload: async (folder, bucket, prefix) => {
        uploads.push([folder, bucket, prefix, recordFiles(folder)]);
        return 1;
      },
    };
    const recordsDir = join(dir, 'records');
    const launcher = new DockerEngineLauncher({
      socketPath: join(dir, 'docker.sock'),
      image: 'qp/vqe:cpu',
      recordsDir,
      uploader,
    });
    const folder = join(recordsDir, containerNameFor(RUN_KEY));

    try {
      // Act
      const handle = await launcher.launch({ runKey: RUN_KEY, args: ['--seed', '1'], records: RECORDS });
      writeFileSync(join(folder, '000000-1.json'), '{}');
      const status = await launcher.status(handle);

      // Assess
      expect(engine.created[0].Cmd).toEqual(['--seed', '1', '--output-dir', '/qp-records']);
      expect(engine.created[0].HostConfig.Binds).toEqual([`${folder}:/qp-records`]);
      expect(JSON.parse(engine.created[0].Labels[RECORDS_UPLOAD_LABEL])).toEqual({
        folder,
        bucket: 'raw-results',
        prefix: PREFIX,
      });
      expect(status).toEqual({ state: 'exited', exitCode: 0, stderrTail: '' });
      expect(uploads).toEqual([[folder, 'raw-results', PREFIX, ['000000-1.json']]]);
      expect(existsSync(folder)).toBe(false);
    } finally {
      await engine.stop();
    }
  });

  it('direct: passes the s3:// prefix and binds nothing', async () => {
    // Prepare
    const engine = fakeEngine(join(dir, 'docker.sock'), 0);
    await engine.start();
    const launcher = new DockerEngineLauncher({ socketPath: join(dir, 'docker.sock'), image: 'qp/vqe:cpu' });

    try {
      // Act
      await launcher.launch({ runKey: RUN_KEY, args: [], records: { ...RECORDS, mode: 'direct', flag: '--output' } });

      // Assess
      expect(engine.created[0].Cmd).toEqual(['--output', `s3://raw-results/${PREFIX}`]);
      expect(engine.created[0].HostConfig.Binds).toBeUndefined();
      expect(engine.created[0].Labels[RECORDS_UPLOAD_LABEL]).toBeUndefined();
    } finally {
      await engine.stop();
    }
  });

  it('refuses host-upload without a records folder and uploader, before creating a container', async () => {
    // Prepare
    const engine = fakeEngine(join(dir, 'docker.sock'), 0);
    await engine.start();
    const launcher = new DockerEngineLauncher({ socketPath: join(dir, 'docker.sock'), image: 'qp/vqe:cpu' });

    try {
      // Act + Assess
      await expect(launcher.launch({ runKey: RUN_KEY, args: [], records: RECORDS })).rejects.toMatchObject({
        name: 'RunLaunchError',
        message: `run ${RUN_KEY}: delivery host-upload needs DockerEngineLauncher.recordsDir and .uploader`,
      });
      expect(engine.created).toEqual([]);
    } finally {
      await engine.stop();
    }
  });
});
