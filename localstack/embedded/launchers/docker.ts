/**
 * Runs a VQE container through the Docker Engine HTTP API (v1.43) on a unix socket, for a host
 * where the pipeline itself runs next to the daemon (the local stack, a single GPU box). Plain
 * `node:http` keeps the Lambda bundle free of a Docker client library.
 *
 * A run's records (LaunchRequest.records): direct, the container gets the s3:// prefix;
 * host-upload, `<recordsDir>/<container name>` is bound at CONTAINER_RECORDS_DIR and, once the
 * container exited 0, uploaded (records.ts), as the run document does on the GPU host. The
 * folder and the target ride on the container's labels, so status() needs the handle only.
 */
import { chmodSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { LauncherUnavailableError, RunLaunchError } from '../../../lambdas/core/errors';
import { CONTAINER_RECORDS_DIR, recordsArguments } from '../../../lambdas/vqe-batch/delivery';
import {
  containerNameFor,
  type Launcher,
  type LaunchRequest,
  type RunHandle,
  type RunStatus,
  tail,
} from '../../../lambdas/vqe-batch/launcher';
import { afterUpload, type PendingUpload, type RecordsUploader } from './records';

export interface DockerEngineLauncherSettings {
  readonly socketPath: string;
  readonly image: string;
  /** e.g. ['QP_S3_ENDPOINT=...'] */
  readonly env?: readonly string[];
  /** host paths bound into the container, 'host:container[:ro]' */
  readonly binds?: readonly string[];
  readonly gpus?: boolean;
  readonly network?: string;
  /** The host folder the run folders are made in (host-upload). @default none: a host-upload run is refused */
  readonly recordsDir?: string;
  /** Uploads a host-upload run's folder once it exited 0. @default none: a host-upload run is refused */
  readonly uploader?: RecordsUploader;
}

/** The Engine API version whose request and response shapes this code follows. */
const API_PREFIX = '/v1.43';
/** A daemon that does not answer within this long is treated as unavailable. */
const REQUEST_TIMEOUT_MS = 30_000;
/** Lines of stderr asked of the daemon; `tail()` then cuts them to the stored size. */
const STDERR_LOG_LINES = 200;
/** Docker's multiplexed log stream: 8-byte frame header, stream id 2 is stderr. */
const FRAME_HEADER_BYTES = 8;
const STDERR_STREAM = 2;
export const RUN_KEY_LABEL = 'quantum-pipeline.run-key';
/** A host-upload run's PendingUpload, as JSON. */
export const RECORDS_UPLOAD_LABEL = 'quantum-pipeline.records-upload';

const RUNNING_STATES = new Set(['created', 'running', 'restarting', 'paused']);
const CONNECTION_ERROR_CODES = new Set(['ENOENT', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EACCES', 'ETIMEDOUT']);

interface EngineResponse {
  readonly statusCode: number;
  readonly body: Buffer;
}

type DockerHandle = Extract<RunHandle, { kind: 'docker' }>;

function expectDockerHandle(handle: RunHandle): DockerHandle {
  if (handle.kind !== 'docker') throw new TypeError(`DockerEngineLauncher cannot handle a ${handle.kind} run handle`);
  return handle;
}

/** The daemon's error text: its JSON `message`, or the raw body when it is not JSON. */
function engineMessage(response: EngineResponse): string {
  const text = response.body.toString('utf8');
  try {
    const parsed = JSON.parse(text) as { message?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    /* not JSON: the text itself is the message */
  }
  return text.trim() || `HTTP ${response.statusCode}`;
}

/** The stderr frames of a multiplexed log stream, joined; a cut-off last frame is kept as far as it goes. */
export function demultiplexStderr(stream: Buffer): string {
  const chunks: Buffer[] = [];
  let offset = 0;
  while (offset + FRAME_HEADER_BYTES <= stream.length) {
    const streamId = stream[offset];
    const size = stream.readUInt32BE(offset + 4);
    const start = offset + FRAME_HEADER_BYTES;
    const end = Math.min(start + size, stream.length);
    if (streamId === STDERR_STREAM) chunks.push(stream.subarray(start, end));
    offset = start + size;
  }
  return Buffer.concat(chunks).toString('utf8');
}

export class DockerEngineLauncher implements Launcher {
  readonly kind = 'docker' as const;

  constructor(private readonly settings: DockerEngineLauncherSettings) {}

  async launch(request: LaunchRequest): Promise<RunHandle> {
    const name = containerNameFor(request.runKey);
    const pending = this.runFolder(name, request);
    let created = await this.create(name, request, pending);
    if (created.statusCode === 409) {
      // A container of this name is left from an earlier attempt of the same run: replace it once.
      await this.removeIgnoringMissing(name);
      created = await this.create(name, request, pending);
    }
    if (created.statusCode === 404) {
      throw new RunLaunchError(`image ${this.settings.image} is not on the Docker host: ${engineMessage(created)}`);
    }
    if (created.statusCode !== 201) {
      throw new RunLaunchError(
        `Docker refused to create container ${name} (HTTP ${created.statusCode}): ${engineMessage(created)}`,
      );
    }
    const containerId = (JSON.parse(created.body.toString('utf8')) as { Id?: string }).Id;
    if (!containerId) throw new RunLaunchError(`Docker created container ${name} but returned no id`);

    const started = await this.call('POST', `/containers/${encodeURIComponent(containerId)}/start`);
    // 304: already started, which a retried launch may see.
    if (started.statusCode !== 204 && started.statusCode !== 304) {
      // Starting fails for reasons a retry does not fix (no GPU runtime, bad bind); leave no container behind.
      await this.removeIgnoringMissing(containerId).catch(() => undefined);
      throw new RunLaunchError(
        `Docker could not start container ${name} (HTTP ${started.statusCode}): ${engineMessage(started)}`,
      );
    }
    return { kind: 'docker', containerId };
  }

  async status(handle: RunHandle): Promise<RunStatus> {
    const { containerId } = expectDockerHandle(handle);
    const path = `/containers/${encodeURIComponent(containerId)}`;
    const inspected = await this.call('GET', `${path}/json`);
    if (inspected.statusCode === 404)
      return { state: 'exited', exitCode: 1, stderrTail: '', detail: 'container vanished' };
    if (inspected.statusCode !== 200) throw this.unexpected('inspect', containerId, inspected);
    const container = JSON.parse(inspected.body.toString('utf8')) as {
      State?: { Status?: string; ExitCode?: number };
      Config?: { Labels?: Record<string, string> };
    };
    const state = container.State ?? {};
    if (RUNNING_STATES.has(state.Status ?? '')) return { state: 'running' };
    const upload = container.Config?.Labels?.[RECORDS_UPLOAD_LABEL];

    const logs = await this.call('GET', `${path}/logs?stderr=1&stdout=0&tail=${STDERR_LOG_LINES}`);
    if (logs.statusCode !== 200 && logs.statusCode !== 404)
      throw this.unexpected('read the logs of', containerId, logs);
    const stderrTail = logs.statusCode === 200 ? tail(demultiplexStderr(logs.body)) : '';
    // The container was kept (AutoRemove off) only so its logs could be read above.
    await this.removeIgnoringMissing(containerId);
    const exitCode = state.ExitCode ?? 1;
    if (state.Status !== 'exited') {
      return { state: 'exited', exitCode, stderrTail, detail: `container ended in state ${state.Status ?? 'unknown'}` };
    }
    const pending = upload === undefined ? undefined : (JSON.parse(upload) as PendingUpload);
    const delivered = await afterUpload({ state: 'exited', exitCode, stderrTail }, pending, this.settings.uploader);
    // Uploaded (or failed for good: the run is recorded failed): the folder is not needed any more.
    if (pending && delivered.state === 'exited' && delivered.exitCode === 0)
      rmSync(pending.folder, { recursive: true, force: true });
    return delivered;
  }

  /** A host-upload run's folder, made empty and writable by any container user; undefined otherwise. */
  private runFolder(name: string, request: LaunchRequest): PendingUpload | undefined {
    const { records } = request;
    if (records?.mode !== 'host-upload') return undefined;
    const { recordsDir, uploader } = this.settings;
    if (!recordsDir || !uploader) {
      throw new RunLaunchError(
        `run ${request.runKey}: delivery host-upload needs DockerEngineLauncher.recordsDir and .uploader`,
      );
    }
    const folder = join(recordsDir, name);
    rmSync(folder, { recursive: true, force: true });
    mkdirSync(folder, { recursive: true });
    chmodSync(folder, 0o777); // the image may run as any user; mkdir's mode is cut by the umask
    return { folder, bucket: records.bucket, prefix: records.prefix };
  }

  async stop(handle: RunHandle): Promise<void> {
    const { containerId } = expectDockerHandle(handle);
    const killed = await this.call('POST', `/containers/${encodeURIComponent(containerId)}/kill`);
    // 404: already removed; 409: not running any more. Both mean there is nothing left to kill.
    if (![204, 404, 409].includes(killed.statusCode)) throw this.unexpected('kill', containerId, killed);
    await this.removeIgnoringMissing(containerId);
  }

  private create(name: string, request: LaunchRequest, pending: PendingUpload | undefined): Promise<EngineResponse> {
    const { image, env, binds, gpus, network } = this.settings;
    const { records } = request;
    const allBinds = [...(binds ?? []), ...(pending ? [`${pending.folder}:${CONTAINER_RECORDS_DIR}`] : [])];
    return this.call('POST', `/containers/create?name=${encodeURIComponent(name)}`, {
      Image: image,
      Cmd: [...request.args, ...(records ? recordsArguments(records, CONTAINER_RECORDS_DIR) : [])],
      Env: env === undefined ? undefined : [...env],
      HostConfig: {
        Binds: allBinds.length === 0 ? undefined : allBinds,
        NetworkMode: network,
        AutoRemove: false,
        // Count -1 with the gpu capability is what `docker run --gpus all` sends.
        DeviceRequests: gpus ? [{ Driver: '', Count: -1, Capabilities: [['gpu']] }] : undefined,
      },
      Labels: {
        [RUN_KEY_LABEL]: request.runKey,
        ...(pending ? { [RECORDS_UPLOAD_LABEL]: JSON.stringify(pending) } : {}),
      },
    });
  }

  /** Removes a container (by id or name), forced; a container already gone is not an error. */
  private async removeIgnoringMissing(container: string): Promise<void> {
    const removed = await this.call('DELETE', `/containers/${encodeURIComponent(container)}?force=true`);
    // 409: a removal of the same container is already in progress.
    if (![204, 404, 409].includes(removed.statusCode)) throw this.unexpected('remove', container, removed);
  }

  /** The daemon answered, but not as the API promises: retry later rather than guess. */
  private unexpected(action: string, container: string, response: EngineResponse): LauncherUnavailableError {
    return new LauncherUnavailableError(
      `Docker could not ${action} container ${container} (HTTP ${response.statusCode}): ${engineMessage(response)}`,
    );
  }

  /** One Engine API request; connection failures become LauncherUnavailableError. */
  private call(method: string, path: string, body?: unknown): Promise<EngineResponse> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    return new Promise<EngineResponse>((resolve, reject) => {
      const outgoing = httpRequest(
        {
          socketPath: this.settings.socketPath,
          method,
          path: `${API_PREFIX}${path}`,
          // The daemon ignores the host, but HTTP/1.1 requires one.
          headers: {
            Host: 'docker',
            ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}),
          },
          timeout: REQUEST_TIMEOUT_MS,
        },
        (incoming) => {
          const chunks: Buffer[] = [];
          incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
          incoming.on('end', () => resolve({ statusCode: incoming.statusCode ?? 0, body: Buffer.concat(chunks) }));
          incoming.on('error', (error) => reject(this.unreachable(error)));
        },
      );
      outgoing.on('timeout', () =>
        outgoing.destroy(Object.assign(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })),
      );
      outgoing.on('error', (error) => reject(this.unreachable(error)));
      outgoing.end(payload);
    });
  }

  private unreachable(error: Error & { code?: string }): Error {
    if (!CONNECTION_ERROR_CODES.has(error.code ?? '')) return error;
    return new LauncherUnavailableError(`Docker Engine unreachable at ${this.settings.socketPath}: ${error.message}`, {
      cause: error,
    });
  }
}

/**
 * The Docker socket to use: DOCKER_HOST when it names a unix socket, else the default socket
 * when it exists. A DOCKER_HOST naming another transport (tcp://, ssh://) gives undefined:
 * this launcher speaks only unix sockets, and falling back to the local default would silently
 * drive a different daemon than the one configured.
 */
export function dockerSocketPath(
  env: Record<string, string | undefined>,
  exists: (path: string) => boolean = existsSync,
): string | undefined {
  const host = env.DOCKER_HOST?.trim();
  if (host) return host.startsWith('unix://') ? host.slice('unix://'.length) || undefined : undefined;
  const defaultSocket = '/var/run/docker.sock';
  return exists(defaultSocket) ? defaultSocket : undefined;
}
