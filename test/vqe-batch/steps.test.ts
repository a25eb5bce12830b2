/**
 * The batch step cores (plan, start-run, check-run, image-build) against an in-memory stand-in of
 * the run state store and a scripted launcher; the S3-backed store itself runs in the e2e test.
 */
import { describe, expect, it } from 'vitest';
import { LauncherUnavailableError, RunLaunchError } from '../../lambdas/core/errors';
import { Logger } from '../../lambdas/core/logger';
import { MetricEmitter } from '../../lambdas/core/metrics';
import { type BatchRef, type BatchSettings, RunState } from '../../lambdas/vqe-batch/contract';
import {
  containerNameFor,
  type Launcher,
  type LaunchRequest,
  type RunHandle,
  type RunStatus,
} from '../../lambdas/vqe-batch/launcher';
import { type Lane, type PlannedRun, runArguments, tierRuns } from '../../lambdas/vqe-batch/plan';
import type { RecordCounter } from '../../lambdas/vqe-batch/record-count';
import type { BatchRecord, RunStateStore } from '../../lambdas/vqe-batch/state-store';
import { createCheckRun } from '../../lambdas/vqe-batch/steps/check-run';
import { createImageBuild, type ImageBuilder } from '../../lambdas/vqe-batch/steps/image-build';
import { createPlanBatch } from '../../lambdas/vqe-batch/steps/plan';
import { createStartRun } from '../../lambdas/vqe-batch/steps/start-run';
import { createBatchSummary } from '../../lambdas/vqe-batch/steps/summary';

type StoreApi = Pick<
  RunStateStore,
  'readRun' | 'writeRun' | 'doneKeys' | 'writePlan' | 'readPlan' | 'writeBatch' | 'readBatch' | 'readRuns'
>;

/** The store's methods the steps call, over maps; states are validated on write as the real store does. */
class MemoryStore implements StoreApi {
  readonly runs = new Map<string, RunState>();
  readonly writes: RunState[] = [];
  readonly plans = new Map<string, PlannedRun[]>();
  readonly batches = new Map<string, BatchRecord>();
  readonly done = new Set<string>();

  async readRun(key: string) {
    return this.runs.get(key);
  }
  async writeRun(state: RunState) {
    const parsed = RunState.parse(state);
    this.writes.push(parsed);
    this.runs.set(parsed.key, parsed);
    if (parsed.status === 'done') this.done.add(parsed.key);
  }
  async doneKeys() {
    return new Set(this.done);
  }
  async writePlan(batchId: string, lane: Lane, runs: readonly PlannedRun[]) {
    this.plans.set(`${batchId}/${lane}`, [...runs]);
  }
  async readPlan(batchId: string, lane: Lane) {
    const plan = this.plans.get(`${batchId}/${lane}`);
    if (!plan) throw new Error(`no plan of lane ${lane} in batch ${batchId}`);
    return plan;
  }
  async writeBatch(record: BatchRecord) {
    this.batches.set(record.batchId, record);
  }
  async readBatch(batchId: string) {
    return this.batches.get(batchId);
  }
  async readRuns(keys: readonly string[]) {
    return new Map(keys.map((key) => [key, this.runs.get(key)]));
  }
  /** The steps type their dependency as the class, whose private members a structural fake cannot have. */
  get asStore(): RunStateStore {
    return this as unknown as RunStateStore;
  }
}

const HANDLE: RunHandle = { kind: 'process', pid: 4242, runDir: '/tmp/qp-run' };

/** Answers status() from a script (then "running"), and records launches and stops. */
class ScriptedLauncher implements Launcher {
  readonly kind = 'process' as const;
  readonly launches: LaunchRequest[] = [];
  readonly stops: RunHandle[] = [];
  constructor(
    private readonly statuses: RunStatus[] = [],
    private readonly onLaunch: (request: LaunchRequest) => Promise<RunHandle> = async () => HANDLE,
  ) {}
  async launch(request: LaunchRequest) {
    this.launches.push(request);
    return this.onLaunch(request);
  }
  async status() {
    return this.statuses.shift() ?? { state: 'running' as const };
  }
  async stop(handle: RunHandle) {
    this.stops.push(handle);
  }
}

const quiet = new Logger('test', {}, 'ERROR', () => undefined);
/** The states these tests write carry no recordsUri (launched before delivery existed): nothing is counted. */
const NOT_COUNTED: RecordCounter = {
  count: async (bucket, prefix) => {
    throw new Error(`no count expected, got one of s3://${bucket}/${prefix}`);
  },
};
const SETTINGS: BatchSettings = {
  stateBucket: 'raw-results',
  statePrefix: 'vqe-batch/',
  launcher: { kind: 'local' },
  moleculesFiles: { gpu1: 'm/gpu1.json', gpu2: 'm/gpu2.json', cpu: 'm/cpu.json' },
  extraArgs: ['--kafka'],
  delivery: {
    mode: 'host-upload',
    bucket: 'raw-results',
    prefix: 'experiments/experiment.vqe/',
    folderFlag: '--output-dir',
    s3Flag: '--output',
  },
  runTimeoutSeconds: 600,
  pollIntervalSeconds: 10,
  chunkSize: 4,
};
const SSM_BUILD: BatchSettings = {
  ...SETTINGS,
  launcher: {
    kind: 'ssm',
    target: { instanceId: 'i-0123456789abcdef0' },
    image: 'sim:gpu',
    documents: { run: 'qp-run', build: 'qp-build' },
    laneDevices: { gpu1: 'device=0', gpu2: 'device=1' },
    commandTimeoutSeconds: 1200,
    build: { contextDir: '/opt/qp', cudaArch: '6.1' },
  },
};
const START = '2026-11-23T19:08:12.345Z';
const NOW = Date.parse('2026-11-23T20:00:00.000Z');
const BATCH: BatchRef = { batchId: '20261123T190812Z-console', tier: 1, runTimeoutSeconds: 600, startedAt: START };
const CPU = tierRuns(1).cpu.slice(0, 3);

describe('createPlanBatch', () => {
  const plan = (store: MemoryStore, input: unknown, settings = SETTINGS) =>
    createPlanBatch({ settings, store: store.asStore, log: quiet })({
      input,
      executionName: 'console',
      startTime: START,
    });

  it.each([
    [{ tier: 5 }, /^batch input: tier: .*got 5$/],
    [{ lanes: ['tpu'] }, /^batch input: lanes\[0\]: .*got "tpu"$/],
    [{ dryrun: true }, /unknown field "dryrun" \(did you mean "dryRun"\?\)/],
    [{ runTimeoutSeconds: 601 }, /^runTimeoutSeconds: at most 600 \(the deployed per-run timeout\), got 601$/],
    [
      { buildImage: true },
      /^buildImage: needs the SSM launcher with a build section \(batch\.build in the CDK config\), got true$/,
    ],
  ])('refuses %j with InvalidInputError naming the field, and writes nothing', async (input, message) => {
    // Prepare
    const store = new MemoryStore();

    // Act + Assess
    await expect(plan(store, input)).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(message),
    });
    expect([store.plans.size, store.batches.size]).toEqual([0, 0]);
  });

  it('refuses an event without the start time, naming the step and the field, and writes nothing', async () => {
    // Prepare
    const store = new MemoryStore();

    // Act + Assess
    await expect(
      createPlanBatch({ settings: SETTINGS, store: store.asStore, log: quiet })({
        input: {},
        executionName: 'console',
      }),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/^plan event: startTime: .*got nothing$/),
    });
    expect([store.plans.size, store.batches.size]).toEqual([0, 0]);
  });

  it('refuses buildImage on an SSM launcher without a build section, and defaults it on with one', async () => {
    // Prepare
    const { build: _, ...noBuild } = SSM_BUILD.launcher as Extract<BatchSettings['launcher'], { kind: 'ssm' }>;

    // Act + Assess
    await expect(plan(new MemoryStore(), { buildImage: true }, { ...SSM_BUILD, launcher: noBuild })).rejects.toThrow(
      /^buildImage: needs the SSM launcher/,
    );
    expect((await plan(new MemoryStore(), { lanes: ['cpu'], limit: 1 }, SSM_BUILD)).buildImage).toBe(true);
    expect((await plan(new MemoryStore(), { lanes: ['cpu'], limit: 1, buildImage: false }, SSM_BUILD)).buildImage).toBe(
      false,
    );
  });

  it("leaves done keys out, stores each lane's runs and the batch record under an id starting with the compact start time", async () => {
    // Prepare
    const store = new MemoryStore();
    for (const run of CPU.slice(0, 2)) store.done.add(run.key);

    // Act
    const output = await plan(store, { lanes: ['cpu'], runTimeoutSeconds: 300 });

    // Assess
    expect(output.batch).toEqual({ ...BATCH, runTimeoutSeconds: 300 });
    expect(output).toMatchObject({ total: 800, alreadyDone: 2, toRun: 798, dryRun: false, buildImage: false });
    expect(store.plans.get(`${BATCH.batchId}/cpu`)![0].key).toBe(CPU[2].key);
    expect(store.batches.get(BATCH.batchId)).toMatchObject({
      input: { lanes: ['cpu'], runTimeoutSeconds: 300 },
      lanes: { cpu: 798 },
    });
  });

  it('cuts each lane into chunks of chunkSize runs, the last one short', async () => {
    // Act: 9 runs dealt in turn: 5 to cpu, 4 to gpu2
    const output = await plan(new MemoryStore(), { lanes: ['cpu', 'gpu2'], limit: 9 });

    // Assess
    expect(output.lanes).toEqual([
      {
        lane: 'cpu',
        runs: 5,
        chunks: [
          { start: 0, end: 4 },
          { start: 4, end: 5 },
        ],
      },
      { lane: 'gpu2', runs: 4, chunks: [{ start: 0, end: 4 }] },
    ]);
    expect(output.batch.runTimeoutSeconds).toBe(600);
  });

  it('writes nothing on a dry run and previews the first runs', async () => {
    // Prepare
    const store = new MemoryStore();

    // Act
    const output = await plan(store, { dryRun: true, lanes: ['cpu'] });

    // Assess
    expect([store.plans.size, store.batches.size]).toEqual([0, 0]);
    expect(output).toMatchObject({ dryRun: true, buildImage: false, preview: { cpu: CPU.map((run) => run.key) } });
  });
});

describe('the run slot of createPlanBatch', () => {
  const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:qp-vqe-batch';
  const SELF = 'arn:aws:states:us-east-1:000000000000:execution:qp-vqe-batch:console';
  const OLDER = 'arn:aws:states:us-east-1:000000000000:execution:qp-vqe-batch:nightly';

  /** Running executions as ListExecutions would list them, recording which machine was asked. */
  function running(executions: Array<{ executionArn: string; startDate: Date }>) {
    const asked: string[] = [];
    return {
      asked,
      async list(stateMachineArn: string) {
        asked.push(stateMachineArn);
        return executions;
      },
    };
  }

  const planWith = (store: MemoryStore, executions: ReturnType<typeof running>, input: unknown = { tier: 4 }) =>
    createPlanBatch({ settings: SETTINGS, store: store.asStore, executions, log: quiet })({
      input,
      executionName: 'console',
      startTime: START,
      executionArn: SELF,
      stateMachineArn: MACHINE,
    });

  it('makes a second batch wait with PipelineBusyError naming the running one, planning and writing nothing', async () => {
    // Prepare
    const store = new MemoryStore();
    const executions = running([
      { executionArn: OLDER, startDate: new Date(Date.parse(START) - 3_600_000) },
      { executionArn: SELF, startDate: new Date(START) },
    ]);

    // Act
    const planning = planWith(store, executions);

    // Assess
    await expect(planning).rejects.toMatchObject({
      name: 'PipelineBusyError',
      message: expect.stringContaining(OLDER),
    });
    expect(executions.asked).toEqual([MACHINE]);
    expect(store.plans.size).toBe(0);
    expect(store.batches.size).toBe(0);
  });

  it('plans the oldest running batch, and a dry run without asking for the slot', async () => {
    // Prepare
    const store = new MemoryStore();
    const alone = running([{ executionArn: SELF, startDate: new Date(START) }]);
    const busy = running([{ executionArn: OLDER, startDate: new Date(Date.parse(START) - 1000) }]);

    // Act
    const planned = await planWith(store, alone);
    const dry = await planWith(new MemoryStore(), busy, { tier: 4, dryRun: true });

    // Assess
    expect(alone.asked).toEqual([MACHINE]);
    expect(planned.toRun).toBeGreaterThan(0);
    expect(store.batches.size).toBe(1);
    expect(dry.dryRun).toBe(true);
    expect(busy.asked).toEqual([]);
  });
});

describe('createStartRun', () => {
  function setUp(launcher = new ScriptedLauncher()) {
    const store = new MemoryStore();
    store.plans.set(`${BATCH.batchId}/cpu`, CPU);
    const start = createStartRun({ settings: SETTINGS, store: store.asStore, launcher, now: () => NOW, log: quiet });
    return {
      store,
      launcher,
      start: (cursor: number) => start({ batch: BATCH, lane: 'cpu', start: 0, cursor, end: 3 }),
    };
  }

  it("past the chunk's end, returns the tally, a failed state of another batch counting as pending and a done one as done", async () => {
    // Prepare: the first run was done by another batch meanwhile (start-run skipped it)
    const { store, launcher, start } = setUp();
    await store.writeRun({ key: CPU[0].key, lane: 'cpu', batchId: 'concurrent', status: 'done', attempt: 1, args: [] });
    await store.writeRun({
      key: CPU[1].key,
      lane: 'cpu',
      batchId: BATCH.batchId,
      status: 'timed_out',
      attempt: 1,
      args: [],
    });
    await store.writeRun({ key: CPU[2].key, lane: 'cpu', batchId: 'older', status: 'failed', attempt: 1, args: [] });

    // Act
    const result = await start(3);

    // Assess
    expect(result).toEqual({
      finished: true,
      ended: true,
      chunk: { lane: 'cpu', start: 0, end: 3, tally: { pending: 1, in_progress: 0, done: 1, failed: 0, timed_out: 1 } },
    });
    expect(launcher.launches).toEqual([]);
  });

  it('records the run in progress before launching it, then with its handle and deadline', async () => {
    // Prepare: the launcher notes what the store held when it was called
    let atLaunch: RunState | undefined;
    const { store, start } = setUp(
      new ScriptedLauncher([], async (request) => {
        atLaunch = await store.readRun(request.runKey);
        return HANDLE;
      }),
    );
    const deadline = new Date(NOW + 600_000).toISOString();

    // Act
    const result = await start(1);

    // Assess
    const args = [...runArguments(CPU[1], 'm/cpu.json'), '--kafka'];
    expect(result).toEqual({ finished: false, ended: false, key: CPU[1].key, handle: HANDLE, deadline });
    expect(atLaunch).toMatchObject({ status: 'in_progress', deadline, args });
    expect(atLaunch?.handle).toBeUndefined();
    expect(store.runs.get(CPU[1].key)).toEqual({
      key: CPU[1].key,
      lane: 'cpu',
      batchId: BATCH.batchId,
      status: 'in_progress',
      attempt: 1,
      args,
      startedAt: new Date(NOW).toISOString(),
      deadline,
      handle: HANDLE,
      recordsUri: `s3://raw-results/experiments/experiment.vqe/${containerNameFor(CPU[1].key)}/attempt-1/`,
    });
  });

  it("asks the launcher for the run's lane, so the launcher can pin it to the lane's GPU", async () => {
    // Prepare
    const { launcher, start } = setUp();

    // Act
    await start(0);

    // Assess
    expect(launcher.launches).toEqual([
      {
        runKey: CPU[0].key,
        args: [...runArguments(CPU[0], 'm/cpu.json'), '--kafka'],
        lane: 'cpu',
        records: {
          mode: 'host-upload',
          bucket: 'raw-results',
          prefix: `experiments/experiment.vqe/${containerNameFor(CPU[0].key)}/attempt-1/`,
          flag: '--output-dir',
        },
      },
    ]);
  });

  it('records a run the launcher refuses as failed, with the reason and no exit code, and moves on', async () => {
    // Prepare
    const { store, start } = setUp(
      new ScriptedLauncher([], async () => {
        throw new RunLaunchError('image sim:gpu not found');
      }),
    );

    // Act
    const result = await start(0);

    // Assess
    expect(result).toEqual({ finished: false, ended: true, key: CPU[0].key, status: 'failed' });
    expect(store.runs.get(CPU[0].key)).toMatchObject({
      status: 'failed',
      exitCode: null,
      detail: 'image sim:gpu not found',
      endedAt: new Date(NOW).toISOString(),
    });
  });

  it("lets other launch errors through for the task's Retry, leaving the run recorded in progress", async () => {
    // Prepare
    const { store, start } = setUp(
      new ScriptedLauncher([], async () => {
        throw new LauncherUnavailableError('SSM throttled');
      }),
    );

    // Act + Assess
    await expect(start(0)).rejects.toMatchObject({ name: 'LauncherUnavailableError', message: 'SSM throttled' });
    expect(store.runs.get(CPU[0].key)).toMatchObject({ status: 'in_progress' });
  });

  it('skips a run already done without launching, and counts attempts on from the previous state', async () => {
    // Prepare
    const { store, launcher, start } = setUp();
    await store.writeRun({ key: CPU[0].key, lane: 'cpu', batchId: 'older', status: 'done', attempt: 1, args: [] });
    await store.writeRun({ key: CPU[1].key, lane: 'cpu', batchId: 'older', status: 'failed', attempt: 2, args: [] });
    const writesBefore = store.writes.length;

    // Act
    const skipped = await start(0);
    await start(1);

    // Assess
    expect(skipped).toEqual({ finished: false, ended: true, key: CPU[0].key, status: 'done' });
    expect(launcher.launches.map((request) => request.runKey)).toEqual([CPU[1].key]);
    expect(store.writes.slice(writesBefore).map((state) => state.key)).not.toContain(CPU[0].key);
    expect(store.runs.get(CPU[1].key)).toMatchObject({ attempt: 3, batchId: BATCH.batchId });
  });

  it('polls the run an earlier attempt of the step launched instead of launching it again', async () => {
    // Prepare: the first attempt launched and recorded the run, but its answer was lost
    const { store, launcher, start } = setUp();
    const first = await start(0);

    // Act: Step Functions retries the step
    const retried = await start(0);

    // Assess
    expect(launcher.launches).toHaveLength(1);
    expect(retried).toEqual(first);
    expect(store.runs.get(CPU[0].key)).toMatchObject({ status: 'in_progress', attempt: 1 });
  });

  it('refuses an event without a cursor', async () => {
    // Act + Assess
    await expect(setUp().start(undefined as never)).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/^start-run event: cursor: /),
    });
  });
});

describe('createCheckRun', () => {
  const deadline = new Date(NOW).toISOString();
  async function check(statuses: RunStatus[], now: number) {
    // The state start-run left: the check keeps its attempt, args and start.
    const store = new MemoryStore();
    await store.writeRun({
      key: CPU[0].key,
      lane: 'cpu',
      batchId: BATCH.batchId,
      status: 'in_progress',
      attempt: 2,
      args: ['--seed', '1'],
      startedAt: START,
      deadline,
      handle: HANDLE,
    });
    const writesBefore = store.writes.length;
    const launcher = new ScriptedLauncher(statuses);
    const result = await createCheckRun({
      store: store.asStore,
      launcher,
      records: NOT_COUNTED,
      now: () => now,
      log: quiet,
    })({
      batch: BATCH,
      lane: 'cpu',
      start: 0,
      cursor: 0,
      end: 3,
      run: { key: CPU[0].key, handle: HANDLE, deadline, finished: false, ended: false },
    });
    return { result, launcher, written: store.writes.slice(writesBefore), state: store.runs.get(CPU[0].key) };
  }

  it('leaves a running run alone up to its deadline', async () => {
    // Act: exactly at the deadline
    const { result, launcher, written } = await check([{ state: 'running' }], NOW);

    // Assess
    expect(result).toEqual({ ended: false, key: CPU[0].key });
    expect([launcher.stops, written]).toEqual([[], []]);
  });

  it('stops a run past its deadline and records it timed_out', async () => {
    // Act
    const { result, launcher, state } = await check(
      [{ state: 'running' }, { state: 'exited', exitCode: 137, stderrTail: 'Killed' }],
      NOW + 1000,
    );

    // Assess
    expect(result).toEqual({ ended: true, key: CPU[0].key, status: 'timed_out' });
    expect(launcher.stops).toEqual([HANDLE]);
    expect(state).toMatchObject({
      status: 'timed_out',
      exitCode: 137,
      detail: 'no exit within 600 s: stopped',
      attempt: 2,
      args: ['--seed', '1'],
      startedAt: START,
      endedAt: new Date(NOW + 1000).toISOString(),
    });
  });

  it('records exit code 0 as done', async () => {
    // Act
    const { result, launcher, state } = await check([{ state: 'exited', exitCode: 0, stderrTail: '' }], NOW - 1000);

    // Assess
    expect(result).toEqual({ ended: true, key: CPU[0].key, status: 'done' });
    expect(launcher.stops).toEqual([]);
    expect(state).toMatchObject({ status: 'done', exitCode: 0, attempt: 2 });
    expect(state?.detail).toBeUndefined();
  });

  it('records another exit code as failed, with the tail of stderr', async () => {
    // Act
    const { result, state } = await check(
      [{ state: 'exited', exitCode: 3, stderrTail: 'ValueError: no such molecule', detail: 'container exited' }],
      NOW - 1000,
    );

    // Assess
    expect(result).toEqual({ ended: true, key: CPU[0].key, status: 'failed' });
    expect(state).toMatchObject({
      status: 'failed',
      exitCode: 3,
      stderrTail: 'ValueError: no such molecule',
      detail: 'container exited',
    });
  });

  it('refuses an event whose run has no deadline, naming the step and the field, before polling or writing', async () => {
    // Prepare
    const store = new MemoryStore();
    const launcher = new ScriptedLauncher([{ state: 'exited', exitCode: 0, stderrTail: '' }]);
    const checkRun = createCheckRun({
      store: store.asStore,
      launcher,
      records: NOT_COUNTED,
      now: () => NOW,
      log: quiet,
    });

    // Act + Assess
    await expect(
      checkRun({ batch: BATCH, lane: 'cpu', start: 0, cursor: 0, end: 3, run: { key: CPU[0].key, handle: HANDLE } }),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/^check-run event: run\.deadline: .*got nothing$/),
    });
    expect([launcher.stops, store.writes]).toEqual([[], []]);
  });
});

describe('createBatchSummary', () => {
  it('reports the progress of the batch the event names', async () => {
    // Prepare
    const store = new MemoryStore();
    await createPlanBatch({ settings: SETTINGS, store: store.asStore, log: quiet })({
      input: { lanes: ['cpu'], limit: 2 },
      executionName: 'console',
      startTime: START,
    });

    // Act
    const summary = await createBatchSummary({ store: store.asStore, now: () => NOW, log: quiet })({
      batch: BATCH,
      lanes: [],
    });

    // Assess
    expect(summary).toMatchObject({ batchId: BATCH.batchId, producedRecords: false });
  });

  it('refuses an event with a malformed batch reference, naming the step, the field and the value', async () => {
    // Act + Assess
    await expect(
      createBatchSummary({ store: new MemoryStore().asStore, log: quiet })({ batch: { ...BATCH, tier: 9 } }),
    ).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/^summary event: batch\.tier: .*got 9$/),
    });
  });
});

describe('createImageBuild', () => {
  const BUILD_HANDLE: RunHandle = {
    kind: 'ssm',
    commandId: 'cmd-build',
    instanceId: 'i-0123456789abcdef0',
    containerName: 'qp-build',
  };
  function builderWith(statuses: RunStatus[]) {
    const requests: unknown[] = [];
    const builder: ImageBuilder = {
      buildImage: async (build) => {
        requests.push(build);
        return BUILD_HANDLE;
      },
      status: async () => statuses.shift() ?? { state: 'running' },
    };
    return { builder, requests };
  }

  it('starts the build with the image and the build section, then polls it to its end', async () => {
    // Prepare
    const { builder, requests } = builderWith([{ state: 'running' }, { state: 'exited', exitCode: 0, stderrTail: '' }]);
    const step = createImageBuild({ settings: SSM_BUILD, builder, log: quiet });
    const check = { action: 'check', batchId: BATCH.batchId, handle: BUILD_HANDLE };

    // Act
    const started = await step({ action: 'start', batchId: BATCH.batchId });
    const running = await step(check);
    const built = await step(check);

    // Assess
    expect(requests).toEqual([{ image: 'sim:gpu', contextDir: '/opt/qp', cudaArch: '6.1' }]);
    expect([started, running]).toEqual([
      { ended: false, handle: BUILD_HANDLE },
      { ended: false, handle: BUILD_HANDLE },
    ]);
    expect(built).toEqual({ ended: true, succeeded: true, exitCode: 0, stderrTail: '', handle: BUILD_HANDLE });
  });

  it('reports a failed build with its exit code and stderr', async () => {
    // Prepare
    const { builder } = builderWith([{ state: 'exited', exitCode: 1, stderrTail: 'nvcc: unsupported arch' }]);

    // Act
    const result = await createImageBuild({ settings: SSM_BUILD, builder, log: quiet })({
      action: 'check',
      batchId: 'b',
      handle: BUILD_HANDLE,
    });

    // Assess
    expect(result).toMatchObject({ ended: true, succeeded: false, exitCode: 1, stderrTail: 'nvcc: unsupported arch' });
  });

  it.each([
    [
      'the local launcher',
      SETTINGS,
      { action: 'start', batchId: 'b' },
      /^image build: needs the SSM launcher with a build section/,
    ],
    ['an unknown action', SSM_BUILD, { action: 'stop', batchId: 'b' }, /^image-build event: /],
  ])('refuses %s with InvalidInputError before building', async (_name, settings, event, message) => {
    // Prepare
    const { builder, requests } = builderWith([]);

    // Act + Assess
    await expect(createImageBuild({ settings, builder, log: quiet })(event)).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(message),
    });
    expect(requests).toEqual([]);
  });
});

describe('createCheckRun: lane progress as metrics', () => {
  const deadline = new Date(NOW).toISOString();
  const ended = NOW - 1000;
  /** Lane cpu of three runs: run 0 polled here (200 s so far), run 1 done in 100 s, run 2 not started. */
  async function setUp() {
    const store = new MemoryStore();
    await store.writePlan(BATCH.batchId, 'cpu', CPU);
    const state = { lane: 'cpu' as const, batchId: BATCH.batchId, attempt: 1, args: [], handle: HANDLE };
    await store.writeRun({
      ...state,
      key: CPU[0].key,
      status: 'in_progress',
      startedAt: iso(ended - 200_000),
      deadline,
    });
    await store.writeRun({
      ...state,
      key: CPU[1].key,
      status: 'done',
      startedAt: iso(ended - 500_000),
      endedAt: iso(ended - 400_000),
    });
    const lines: Record<string, unknown>[] = [];
    const metrics = new MetricEmitter({ stack: 'qp-test', sink: (line) => lines.push(JSON.parse(line)), log: quiet });
    return { store, lines, metrics };
  }
  const iso = (ms: number) => new Date(ms).toISOString();
  const event = {
    batch: BATCH,
    lane: 'cpu',
    start: 0,
    cursor: 0,
    end: 3,
    run: { key: CPU[0].key, handle: HANDLE, deadline, finished: false, ended: false },
  };

  it("publishes the lane's done, failed, timed-out and pending runs, ETA and mean run time once a run ended", async () => {
    // Prepare
    const { store, lines, metrics } = await setUp();
    const launcher = new ScriptedLauncher([{ state: 'running' }, { state: 'exited', exitCode: 0, stderrTail: '' }]);
    const checkRun = createCheckRun({
      store: store.asStore,
      launcher,
      records: NOT_COUNTED,
      now: () => ended,
      log: quiet,
      metrics,
    });

    // Act
    await checkRun(event); // still running: nothing changed, nothing published
    const whileRunning = lines.length;
    await checkRun(event);

    // Assess
    expect(whileRunning).toBe(0);
    expect(lines).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: 'QuantumPipeline',
              Dimensions: [['Stack', 'Job', 'Lane']],
              Metrics: [
                { Name: 'RunsDone', Unit: 'Count' },
                { Name: 'RunsFailed', Unit: 'Count' },
                { Name: 'RunsTimedOut', Unit: 'Count' },
                { Name: 'RunsPending', Unit: 'Count' },
                { Name: 'EtaSeconds', Unit: 'Seconds' },
                { Name: 'MeanRunSeconds', Unit: 'Seconds' },
              ],
            },
          ],
        },
        RunId: BATCH.batchId,
        Stack: 'qp-test',
        Job: 'vqe_batch',
        Lane: 'cpu',
        RunsDone: 2,
        RunsFailed: 0,
        RunsTimedOut: 0,
        RunsPending: 1,
        EtaSeconds: 150,
        MeanRunSeconds: 150,
      },
    ]);
  });

  it('keeps the run outcome when the lane progress cannot be read, with a WARN', async () => {
    // Prepare
    const { store, lines, metrics } = await setUp();
    store.plans.clear();
    const warnings: Record<string, unknown>[] = [];
    const log = new Logger('check-run', {}, 'WARN', (line) => warnings.push(JSON.parse(line)));
    const launcher = new ScriptedLauncher([{ state: 'exited', exitCode: 1, stderrTail: 'boom' }]);

    // Act
    const result = await createCheckRun({
      store: store.asStore,
      launcher,
      records: NOT_COUNTED,
      now: () => ended,
      log,
      metrics,
    })(event);

    // Assess
    expect(result).toEqual({ ended: true, key: CPU[0].key, status: 'failed' });
    expect(lines).toEqual([]);
    expect(warnings.map((w) => w.message)).toContain('lane progress not published');
    expect(warnings.find((w) => w.message === 'lane progress not published')).toMatchObject({
      lane: 'cpu',
      error: { message: `no plan of lane cpu in batch ${BATCH.batchId}` },
    });
  });
});
