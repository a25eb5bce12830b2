/**
 * The synthesized "vqe batch generation" state machines, executed in this process: the real
 * definitions (the parent starts the chunk machine through StartExecution.sync, as on AWS), the
 * real step code, the run states in the local Garage, and a local launcher in place of SSM: the
 * Docker Engine API when a Docker socket exists, otherwise a process runner of mini-VQE.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { QuantumPipelineStack } from '../../infra/stack';
import type { Environment } from '../../lambdas/core/env';
import { Logger, withLambdaContext } from '../../lambdas/core/logger';
import { REPORT_ENV } from '../../lambdas/report/contract';
import { createWriteBatchReport } from '../../lambdas/report/steps/write-report';
import { BatchSettings } from '../../lambdas/vqe-batch/contract';
import type { Launcher, LaunchRequest, RunHandle, RunStatus } from '../../lambdas/vqe-batch/launcher';
import { readBatchSettings, recordCounterFor, stateS3Client, stateStoreFor } from '../../lambdas/vqe-batch/settings';
import type { RunStateStore } from '../../lambdas/vqe-batch/state-store';
import { createCheckRun } from '../../lambdas/vqe-batch/steps/check-run';
import { createImageBuild } from '../../lambdas/vqe-batch/steps/image-build';
import { createPlanBatch } from '../../lambdas/vqe-batch/steps/plan';
import { createStartRun } from '../../lambdas/vqe-batch/steps/start-run';
import { createBatchSummary } from '../../lambdas/vqe-batch/steps/summary';
import { batchLockFile, LocalBatchRunSlot } from './batch-run-slot';
import { type CfnTemplate, functionEnvironment, logicalIdOf, placeholderArn, resolveDefinition } from './definition';
import { DockerEngineLauncher, dockerSocketPath } from './launchers/docker';
import { ProcessLauncher } from './launchers/process';
import { recordsUploaderFromEnv } from './launchers/records';
import { hostBusBindings, type LocalEventBridge, localMetricEmitter } from './local-events';
import { type LambdaHandler, LocalStateMachineHost } from './local-host';

/** The image the Docker launcher runs locally (mini-vqe/Dockerfile). */
export const LOCAL_MINI_VQE_IMAGE = 'quantum-pipeline-mini-vqe:latest';

export interface LocalVqeBatchOptions {
  readonly template: CfnTemplate;
  readonly stack: QuantumPipelineStack;
  readonly bus: LocalEventBridge;
  /** The process environment: dataplane.env, QP_MINI_VQE_PYTHON, DOCKER_HOST, QP_STATE_DIR. */
  readonly env: Environment;
  /** Changes to the deployed BATCH_SETTINGS (tests use their own prefixes). */
  readonly settings?: Partial<BatchSettings>;
  /** @default chosen from the environment (localLauncher) */
  readonly launcher?: Launcher;
  /** Duration of each poll Wait state. @default 1000 */
  readonly pollMs?: number;
  /** Retry pauses in ms by state name; unset states keep the definition's intervals. */
  readonly retryOverridesMs?: Record<string, number | number[]>;
  /** Where the batch report reads the run summaries (the feature pipeline's, which tests move). @default the template's */
  readonly summaryUri?: string;
  readonly lambdaLog?: (line: string) => void;
}

export interface LocalVqeBatch {
  readonly host: LocalStateMachineHost;
  readonly chunkHost: LocalStateMachineHost;
  readonly settings: BatchSettings;
  readonly store: RunStateStore;
  readonly launcher: Launcher;
}

/** mini-VQE's folder: its molecule files are relative to it. */
export function miniVqeDir(): string {
  return join(__dirname, '..', '..', 'mini-vqe');
}

/** The Docker Engine API when a socket exists, else mini-VQE as local processes (QP_MINI_VQE_PYTHON). */
export function localLauncher(env: Environment): Launcher {
  const socketPath = dockerSocketPath(env);
  const passOn = ['QP_S3_ENDPOINT', 'QP_S3_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']
    .filter((name) => env[name])
    .map((name) => `${name}=${env[name]}`);
  if (socketPath) {
    // Host networking: the container reaches the data plane on 127.0.0.1 like the host does.
    // host-upload: the run folders under the state folder, uploaded to Garage as the GPU host would.
    return new DockerEngineLauncher({
      socketPath,
      image: LOCAL_MINI_VQE_IMAGE,
      env: passOn,
      network: 'host',
      recordsDir: join(localStateDir(env), 'vqe-records'),
      uploader: recordsUploaderFromEnv(env),
    });
  }
  return miniVqeProcessLauncher(env);
}

/** mini-VQE as local processes (no Docker): what `localLauncher` picks without a Docker socket. */
export function miniVqeProcessLauncher(env: Environment): Launcher {
  const python = env.QP_MINI_VQE_PYTHON;
  if (!python)
    throw new Error('QP_MINI_VQE_PYTHON is not set: run through npm (scripts/with-dataplane.sh installs mini-VQE)');
  const stateDir = localStateDir(env);
  return new ProcessLauncher({
    command: [python, '-m', 'mini_vqe'],
    cwd: miniVqeDir(),
    env: { PYTHONPATH: miniVqeDir() },
    runsDir: join(stateDir, 'vqe-runs'),
    uploader: recordsUploaderFromEnv(env),
  });
}

/** The local state folder (QP_STATE_DIR, as the data plane scripts set it). */
function localStateDir(env: Environment): string {
  return env.QP_STATE_DIR ?? join(env.HOME ?? '.', '.local', 'state', 'quantum-pipeline');
}

/** Chooses the local launcher on first use: the feature pipeline's runs need no mini-VQE installed. */
class DeferredLauncher implements Launcher {
  private chosen?: Launcher;

  constructor(private readonly choose: () => Launcher) {}

  get kind(): Launcher['kind'] {
    return this.launcher().kind;
  }

  launch(request: LaunchRequest): Promise<RunHandle> {
    return this.launcher().launch(request);
  }
  status(handle: RunHandle): Promise<RunStatus> {
    return this.launcher().status(handle);
  }
  stop(handle: RunHandle): Promise<void> {
    return this.launcher().stop(handle);
  }

  private launcher(): Launcher {
    this.chosen ??= this.choose();
    return this.chosen;
  }
}

export function createLocalVqeBatch(options: LocalVqeBatchOptions): LocalVqeBatch | undefined {
  const { stack, template } = options;
  const batch = stack.vqeBatch;
  if (!batch) return undefined;
  const ids = Object.fromEntries(Object.entries(batch.functions).map(([name, fn]) => [name, logicalIdOf(stack, fn)]));
  const deployed = readBatchSettings(functionEnvironment(template, ids.plan));
  const settings = options.settings ? BatchSettings.parse({ ...deployed, ...options.settings }) : deployed;
  const s3 = stateS3Client(settings);
  const store = stateStoreFor(settings, s3);
  const launcher = options.launcher ?? new DeferredLauncher(() => localLauncher(options.env));
  const log = (service: string) => new Logger(service, {}, 'INFO', options.lambdaLog ?? (() => undefined));

  const logs = {
    plan: log('vqe-batch-plan'),
    startRun: log('vqe-batch-start-run'),
    checkRun: log('vqe-batch-check-run'),
    summary: log('vqe-batch-summary'),
    imageBuild: log('vqe-batch-image-build'),
  };
  // One batch at a time, across processes too (a lock file; AWS asks ListExecutions instead).
  const runSlot = new LocalBatchRunSlot(
    batchLockFile(localStateDir(options.env), settings.stateBucket, settings.statePrefix),
    (executionArn) => host.listRunning(host.stateMachineArn).some((e) => e.executionArn === executionArn),
  );
  const plan = createPlanBatch({ settings, store, runSlot, log: logs.plan });
  const startRun = createStartRun({ settings, store, launcher, log: logs.startRun });
  const metrics = localMetricEmitter(functionEnvironment(template, ids['check-run']), logs.checkRun, (line) => {
    options.lambdaLog?.(line);
    options.bus.recordMetrics(line);
  });
  const checkRun = createCheckRun({
    store,
    launcher,
    records: recordCounterFor(settings, s3),
    log: logs.checkRun,
    metrics,
  });
  const summary = createBatchSummary({ store, log: logs.summary });
  const imageBuild = createImageBuild({
    settings,
    log: logs.imageBuild,
    builder: {
      buildImage: async () => {
        throw new Error('no image build on the local profile');
      },
      status: (handle) => launcher.status(handle),
    },
  });
  // As on Lambda, each invocation's ids go on every line its step writes.
  const handlers: Record<string, LambdaHandler> = {
    [ids.plan]: withLambdaContext(logs.plan, async (event) => plan(event), {}),
    [ids['start-run']]: withLambdaContext(logs.startRun, async (event) => startRun(event), {}),
    [ids['check-run']]: withLambdaContext(logs.checkRun, async (event) => checkRun(event), {}),
    [ids['image-build']]: withLambdaContext(logs.imageBuild, async (event) => imageBuild(event), {}),
    [ids.summary]: withLambdaContext(logs.summary, async (event) => summary(event), {}),
  };
  if (batch.reportFunction) {
    const reportId = logicalIdOf(stack, batch.reportFunction);
    const reportEnv = functionEnvironment(template, reportId);
    const reportLog = log('write-batch-report');
    // The batch's own store (tests change its prefix) and the summaries where the jobs write them.
    const writeReport = createWriteBatchReport({
      s3,
      store,
      bucket: String(reportEnv[REPORT_ENV.bucket]),
      summaryUri: options.summaryUri ?? String(reportEnv[REPORT_ENV.summaryUri]),
      log: reportLog,
    });
    handlers[reportId] = withLambdaContext(reportLog, async (event) => writeReport(event), {});
  }
  const waits = { WaitForRun: options.pollMs ?? 1000, WaitForImageBuild: options.pollMs ?? 1000 };

  const chunkId = logicalIdOf(stack, batch.chunkStateMachine);
  const chunkHost = new LocalStateMachineHost({
    definition: resolveDefinition(template, chunkId),
    stateMachineName: `${batch.stateMachineName}-chunk`,
    stateMachineArn: placeholderArn(template, chunkId),
    lambdaHandlers: handlers,
    ...hostBusBindings(options.bus),
    waitOverridesMs: waits,
    retryOverridesMs: options.retryOverridesMs,
  });
  const machineId = logicalIdOf(stack, batch.stateMachine);
  const bindings = hostBusBindings(options.bus);
  const host: LocalStateMachineHost = new LocalStateMachineHost({
    definition: resolveDefinition(template, machineId),
    stateMachineName: batch.stateMachineName,
    stateMachineArn: placeholderArn(template, machineId),
    lambdaHandlers: handlers,
    ...bindings,
    onExecutionEnd: (change) => {
      runSlot.release(change.executionArn);
      bindings.onExecutionEnd(change);
    },
    waitOverridesMs: waits,
    retryOverridesMs: options.retryOverridesMs,
    startExecution: (arn, input, name) => {
      if (arn !== chunkHost.stateMachineArn) throw new Error(`no local state machine ${arn}`);
      const cursor = input as { lane?: string; start?: number };
      return chunkHost.start(
        input,
        name ?? `${cursor.lane ?? 'chunk'}-${cursor.start ?? 0}-${randomUUID().slice(0, 8)}`,
      );
    },
  });
  return { host, chunkHost, settings, store, launcher };
}
