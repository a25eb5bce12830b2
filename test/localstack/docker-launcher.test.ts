/**
 * The Docker Engine launcher against a fake Engine API on a unix socket. No Docker daemon runs
 * here, so the fake follows the Engine API v1.43 request and response shapes (paths, status
 * codes, `{ message }` errors, the multiplexed log stream) for the calls the launcher makes.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LauncherUnavailableError, RunLaunchError } from '../../lambdas/core/errors';
import { containerNameFor } from '../../lambdas/vqe-batch/launcher';
import { DockerEngineLauncher, demultiplexStderr, dockerSocketPath } from '../../localstack/embedded/launchers/docker';

interface FakeContainer {
  id: string;
  name: string;
  status: string;
  exitCode: number;
  stdout: string;
  stderr: string;
}
interface RecordedRequest {
  method: string;
  url: string;
  body: unknown;
}

/** One frame of Docker's multiplexed stream: [stream id, 0, 0, 0, size as uint32 big-endian] then the bytes. */
function frame(streamId: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text, 'utf8');
  const header = Buffer.alloc(8);
  header[0] = streamId;
  header.writeUInt32BE(payload.length, 4);
  return Buffer.concat([header, payload]);
}

class FakeEngine {
  readonly requests: RecordedRequest[] = [];
  readonly containers = new Map<string, FakeContainer>();
  readonly images = new Set(['qp/vqe:gpu']);
  private server?: Server;
  private nextId = 1;

  constructor(readonly socketPath: string) {}

  start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const body = text ? JSON.parse(text) : undefined;
        this.requests.push({ method: req.method ?? '', url: req.url ?? '', body });
        this.route(req, res, body);
      });
    });
    return new Promise((resolve) => this.server!.listen(this.socketPath, resolve));
  }

  stop(): Promise<void> {
    return new Promise((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  /** A container whose program has ended, as the daemon keeps it when AutoRemove is off. */
  finish(id: string, exitCode: number, stderr: string, stdout = ''): void {
    Object.assign(this.find(id)!, { status: 'exited', exitCode, stderr, stdout });
  }

  private find(idOrName: string): FakeContainer | undefined {
    return this.containers.get(idOrName) ?? [...this.containers.values()].find((c) => c.name === idOrName);
  }

  /** Answers one request; returns the ended response. */
  private route(req: IncomingMessage, res: ServerResponse, body: { Image?: string } | undefined): ServerResponse {
    const url = new URL(req.url ?? '/', 'http://docker');
    const json = (status: number, value?: unknown): ServerResponse => {
      res.writeHead(status, value === undefined ? {} : { 'Content-Type': 'application/json' });
      return res.end(value === undefined ? undefined : JSON.stringify(value));
    };
    const missing = (id: string) => json(404, { message: `No such container: ${id}` });
    if (req.method === 'POST' && url.pathname === '/v1.43/containers/create') {
      const name = url.searchParams.get('name') ?? '';
      if (this.find(name)) return json(409, { message: `Conflict. The container name "/${name}" is already in use.` });
      if (!this.images.has(body?.Image ?? '')) return json(404, { message: `No such image: ${body?.Image}` });
      const id = `c${this.nextId++}`.padEnd(64, '0');
      this.containers.set(id, { id, name, status: 'created', exitCode: 0, stdout: '', stderr: '' });
      return json(201, { Id: id, Warnings: [] });
    }
    const match = /^\/v1\.43\/containers\/([^/]+)(?:\/(start|json|logs|kill))?$/.exec(url.pathname);
    const container = match ? this.find(decodeURIComponent(match[1])) : undefined;
    if (!match) return json(404, { message: 'page not found' });
    if (!container) return missing(match[1]);
    switch (`${req.method} ${match[2] ?? ''}`) {
      case 'POST start':
        if (container.status === 'running') return json(304);
        container.status = 'running';
        return json(204);
      case 'GET json':
        return json(200, {
          Id: container.id,
          Name: `/${container.name}`,
          State: { Status: container.status, ExitCode: container.exitCode },
        });
      case 'GET logs': {
        // Interleaved stdout and stderr frames, as a container without a TTY writes them.
        res.writeHead(200, { 'Content-Type': 'application/vnd.docker.multiplexed-stream' });
        const frames = [frame(1, container.stdout)];
        for (const line of container.stderr.split(/(?<=\n)/)) frames.push(frame(2, line), frame(1, 'progress\n'));
        return res.end(Buffer.concat(frames));
      }
      case 'POST kill':
        if (container.status !== 'running') return json(409, { message: `Container ${container.id} is not running` });
        Object.assign(container, { status: 'exited', exitCode: 137 });
        return json(204);
      case 'DELETE ':
        if (container.status === 'running' && url.searchParams.get('force') !== 'true')
          return json(409, { message: 'stop the container before removing' });
        this.containers.delete(container.id);
        return json(204);
      default:
        return json(404, { message: 'page not found' });
    }
  }
}

let dir: string;
let engine: FakeEngine;
beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), 'qp-docker-'));
  engine = new FakeEngine(join(dir, 'docker.sock'));
  await engine.start();
});
afterEach(async () => {
  await engine.stop();
  rmSync(dir, { recursive: true, force: true });
});

const RUN_KEY = 'gpu1/sto3g/NH3/L-BFGS-B/EfficientSU2/random/seed-1';
const ARGS = ['--molecule', 'NH3', '--basis', 'sto3g'];

function launcher(settings: { gpus?: boolean; image?: string; socketPath?: string } = {}): DockerEngineLauncher {
  return new DockerEngineLauncher({
    socketPath: settings.socketPath ?? engine.socketPath,
    image: settings.image ?? 'qp/vqe:gpu',
    env: ['QP_S3_ENDPOINT=http://minio:9000'],
    binds: ['/data:/data:ro'],
    network: 'qp-net',
    gpus: settings.gpus,
  });
}

describe('DockerEngineLauncher.launch', () => {
  it('creates the container with image, arguments, environment, binds, GPUs and run key label, then starts it', async () => {
    // Act
    const handle = await launcher({ gpus: true }).launch({ runKey: RUN_KEY, args: ARGS });

    // Assess
    expect(handle).toMatchObject({ kind: 'docker' });
    const create = engine.requests[0];
    expect(create.url).toBe(`/v1.43/containers/create?name=${containerNameFor(RUN_KEY)}`);
    expect(create.body).toEqual({
      Image: 'qp/vqe:gpu',
      Cmd: ARGS,
      Env: ['QP_S3_ENDPOINT=http://minio:9000'],
      HostConfig: {
        Binds: ['/data:/data:ro'],
        NetworkMode: 'qp-net',
        AutoRemove: false,
        DeviceRequests: [{ Driver: '', Count: -1, Capabilities: [['gpu']] }],
      },
      Labels: { 'quantum-pipeline.run-key': RUN_KEY },
    });
    expect(engine.requests[1]).toMatchObject({
      method: 'POST',
      url: `/v1.43/containers/${handle.kind === 'docker' && handle.containerId}/start`,
    });
    expect([...engine.containers.values()][0].status).toBe('running');
  });

  it('asks for no GPU device when gpus is off', async () => {
    // Act
    await launcher({ gpus: false }).launch({ runKey: RUN_KEY, args: ARGS });

    // Assess
    expect((engine.requests[0].body as { HostConfig: object }).HostConfig).not.toHaveProperty('DeviceRequests');
  });

  it('replaces a container of the same name left from an earlier attempt', async () => {
    // Prepare
    const first = await launcher().launch({ runKey: RUN_KEY, args: ARGS });
    engine.requests.length = 0;

    // Act
    const second = await launcher().launch({ runKey: RUN_KEY, args: ARGS });

    // Assess
    expect(engine.requests.map((r) => `${r.method} ${r.url.replace(/\?.*/, '')}`)).toEqual([
      'POST /v1.43/containers/create',
      `DELETE /v1.43/containers/${containerNameFor(RUN_KEY)}`,
      'POST /v1.43/containers/create',
      `POST /v1.43/containers/${second.kind === 'docker' && second.containerId}/start`,
    ]);
    expect(engine.requests[1].url).toContain('force=true');
    expect(second).not.toEqual(first);
    expect(engine.containers.size).toBe(1);
  });

  it('fails the run naming the image when the daemon does not have it', async () => {
    // Act
    const launching = launcher({ image: 'qp/vqe:missing' }).launch({ runKey: RUN_KEY, args: ARGS });

    // Assess
    await expect(launching).rejects.toBeInstanceOf(RunLaunchError);
    await expect(launching).rejects.toThrow('qp/vqe:missing');
  });

  it('reports a socket nobody listens on as LauncherUnavailableError', async () => {
    // Act
    const launching = launcher({ socketPath: join(dir, 'absent.sock') }).launch({ runKey: RUN_KEY, args: ARGS });

    // Assess
    await expect(launching).rejects.toMatchObject({ name: 'LauncherUnavailableError', cause: { code: 'ENOENT' } });
    await expect(launching).rejects.toBeInstanceOf(LauncherUnavailableError);
  });
});

describe('DockerEngineLauncher.status', () => {
  it('reports running, then the exit code and stderr alone once exited, and deletes the container after', async () => {
    // Prepare
    const subject = launcher();
    const handle = await subject.launch({ runKey: RUN_KEY, args: ARGS });
    const id = handle.kind === 'docker' ? handle.containerId : '';

    // Act
    const whileRunning = await subject.status(handle);
    engine.finish(id, 3, 'Traceback (most recent call last):\nValueError: bad basis\n', 'stdout noise\n');
    const afterExit = await subject.status(handle);

    // Assess
    expect(whileRunning).toEqual({ state: 'running' });
    expect(afterExit).toEqual({
      state: 'exited',
      exitCode: 3,
      stderrTail: 'Traceback (most recent call last):\nValueError: bad basis\n',
    });
    expect(engine.requests.some((r) => r.url === `/v1.43/containers/${id}/logs?stderr=1&stdout=0&tail=200`)).toBe(true);
    expect(engine.containers.has(id)).toBe(false);
    const methods = engine.requests.slice(-2).map((r) => r.method);
    expect(methods).toEqual(['GET', 'DELETE']);
  });

  it('reports a container that is gone as exited with code 1', async () => {
    // Act
    const status = await launcher().status({ kind: 'docker', containerId: 'f'.repeat(64) });

    // Assess
    expect(status).toEqual({ state: 'exited', exitCode: 1, stderrTail: '', detail: 'container vanished' });
  });
});

describe('DockerEngineLauncher.stop', () => {
  it('kills and removes a running container, and is safe to call again', async () => {
    // Prepare
    const subject = launcher();
    const handle = await subject.launch({ runKey: RUN_KEY, args: ARGS });
    const id = handle.kind === 'docker' ? handle.containerId : '';
    engine.requests.length = 0;

    // Act
    await subject.stop(handle);
    await subject.stop(handle);

    // Assess
    expect(engine.requests.slice(0, 2).map((r) => `${r.method} ${r.url}`)).toEqual([
      `POST /v1.43/containers/${id}/kill`,
      `DELETE /v1.43/containers/${id}?force=true`,
    ]);
    expect(engine.containers.size).toBe(0);
  });

  it('removes a container that already exited without failing on the kill', async () => {
    // Prepare
    const subject = launcher();
    const handle = await subject.launch({ runKey: RUN_KEY, args: ARGS });
    engine.finish(handle.kind === 'docker' ? handle.containerId : '', 0, '');

    // Act / Assess
    await expect(subject.stop(handle)).resolves.toBeUndefined();
    expect(engine.containers.size).toBe(0);
  });
});

describe('demultiplexStderr', () => {
  it('keeps a cut-off last stderr frame as far as it goes', () => {
    const stream = Buffer.concat([frame(2, 'one\n'), frame(1, 'out'), frame(2, 'two-and-more')]).subarray(0, -5);

    expect(demultiplexStderr(stream)).toBe('one\ntwo-and');
  });
});

describe('dockerSocketPath', () => {
  it('takes the path of a unix DOCKER_HOST', () => {
    expect(dockerSocketPath({ DOCKER_HOST: 'unix:///run/user/1000/docker.sock' }, () => false)).toBe(
      '/run/user/1000/docker.sock',
    );
  });

  it('falls back to the default socket only when it exists', () => {
    expect(dockerSocketPath({}, (path) => path === '/var/run/docker.sock')).toBe('/var/run/docker.sock');
    expect(dockerSocketPath({}, () => false)).toBeUndefined();
  });

  it('gives nothing for a DOCKER_HOST of another transport rather than a different daemon', () => {
    expect(dockerSocketPath({ DOCKER_HOST: 'tcp://10.0.0.5:2376' }, () => true)).toBeUndefined();
  });

  it('looks for the default socket on the real file system when not told otherwise', () => {
    expect(dockerSocketPath({})).toBe(existsSync('/var/run/docker.sock') ? '/var/run/docker.sock' : undefined);
  });
});
