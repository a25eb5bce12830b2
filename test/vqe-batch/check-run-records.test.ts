/**
 * What a run delivered: StartRun gives each launch its own records prefix, CheckRun counts the
 * objects below it with ListObjectsV2 (S3 mocked at the SDK boundary, answers in the API's own
 * shapes, pages included) and fails a run that exited 0 but delivered nothing; the summary's
 * producedRecords follows the count.
 */
import { ListObjectsV2Command, S3Client, S3ServiceException } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import { type BatchRef, type BatchSettings, NO_RECORDS_DELIVERED, RunState } from '../../lambdas/vqe-batch/contract';
import {
  containerNameFor,
  type Launcher,
  type LaunchRequest,
  type RunHandle,
  type RunStatus,
} from '../../lambdas/vqe-batch/launcher';
import { type PlannedRun, tierRuns } from '../../lambdas/vqe-batch/plan';
import { S3RecordCounter } from '../../lambdas/vqe-batch/record-count';
import type { BatchRecord, RunStateStore } from '../../lambdas/vqe-batch/state-store';
import { createCheckRun } from '../../lambdas/vqe-batch/steps/check-run';
import { createStartRun } from '../../lambdas/vqe-batch/steps/start-run';
import { readBatchProgress } from '../../lambdas/vqe-batch/steps/summary';

const s3 = mockClient(S3Client);
afterEach(() => s3.reset());

const quiet = new Logger('test', {}, 'ERROR', () => undefined);
const NOW = Date.parse('2026-12-07T12:00:00.000Z');
const BATCH: BatchRef = {
  batchId: '20261207T110000Z-console',
  tier: 1,
  runTimeoutSeconds: 600,
  startedAt: new Date(NOW - 3_600_000).toISOString(),
};
const [RUN, OTHER] = tierRuns(1).cpu;
const HANDLE: RunHandle = { kind: 'process', pid: 4242, runDir: '/tmp/qp-run' };
const PREFIX = `experiments/experiment.vqe/${containerNameFor(RUN.key)}/attempt-2/`;
const SETTINGS: BatchSettings = {
  stateBucket: 'raw-results',
  statePrefix: 'vqe-batch/',
  launcher: { kind: 'local' },
  moleculesFiles: { gpu1: 'm/gpu1.json', gpu2: 'm/gpu2.json', cpu: 'm/cpu.json' },
  extraArgs: [],
  delivery: {
    mode: 'direct',
    bucket: 'raw-results',
    prefix: 'experiments/experiment.vqe/',
    folderFlag: '--output-dir',
    s3Flag: '--output',
  },
  runTimeoutSeconds: 600,
  pollIntervalSeconds: 10,
  chunkSize: 4,
};

/** The store's methods the steps call, over a map (states validated as the real store does). */
class MemoryStore {
  readonly runs = new Map<string, RunState>();
  readonly plans = new Map<string, PlannedRun[]>();
  batch?: BatchRecord;
  async readRun(key: string) {
    return this.runs.get(key);
  }
  async writeRun(state: RunState) {
    this.runs.set(state.key, RunState.parse(state));
  }
  async readRuns(keys: readonly string[]) {
    return new Map(keys.map((key) => [key, this.runs.get(key)]));
  }
  async readPlan(batchId: string, lane: string) {
    return this.plans.get(`${batchId}/${lane}`) ?? [];
  }
  async readBatch() {
    return this.batch;
  }
  get asStore(): RunStateStore {
    return this as unknown as RunStateStore;
  }
}

class OneStatusLauncher implements Launcher {
  readonly kind = 'process' as const;
  readonly launches: LaunchRequest[] = [];
  constructor(private readonly answer: RunStatus) {}
  async launch(request: LaunchRequest) {
    this.launches.push(request);
    return HANDLE;
  }
  async status() {
    return this.answer;
  }
  async stop() {}
}

/** A ListObjectsV2 page as S3 answers it. */
function page(keys: string[], next?: string) {
  return {
    $metadata: { httpStatusCode: 200 },
    Name: 'raw-results',
    Prefix: PREFIX,
    KeyCount: keys.length,
    MaxKeys: 1000,
    IsTruncated: next !== undefined,
    ...(next ? { NextContinuationToken: next } : {}),
    Contents: keys.map((Key) => ({
      Key,
      Size: 2048,
      ETag: '"0f343b0931126a20f133d67c2b018a3b"',
      StorageClass: 'STANDARD' as const,
    })),
  };
}

async function checkAfterExit(
  status: RunStatus,
  stateExtra: Partial<RunState> = { recordsUri: `s3://raw-results/${PREFIX}` },
) {
  const store = new MemoryStore();
  await store.writeRun({
    key: RUN.key,
    lane: 'cpu',
    batchId: BATCH.batchId,
    status: 'in_progress',
    attempt: 2,
    args: ['--seed', '1'],
    startedAt: new Date(NOW - 60_000).toISOString(),
    deadline: new Date(NOW + 60_000).toISOString(),
    handle: HANDLE,
    ...stateExtra,
  });
  const checkRun = createCheckRun({
    store: store.asStore,
    launcher: new OneStatusLauncher(status),
    records: new S3RecordCounter(new S3Client({ region: 'eu-west-1' })),
    now: () => NOW,
    log: quiet,
  });
  const result = await checkRun({
    batch: BATCH,
    lane: 'cpu',
    start: 0,
    cursor: 0,
    end: 2,
    run: { key: RUN.key, handle: HANDLE, deadline: new Date(NOW + 60_000).toISOString() },
  });
  return { result, state: store.runs.get(RUN.key) };
}

const exited0: RunStatus = { state: 'exited', exitCode: 0, stderrTail: '' };

describe('createStartRun: where a launch delivers', () => {
  it('gives each launch its own prefix below the records prefix (attempt included), in the request and the state', async () => {
    // Prepare: the run failed once before
    const store = new MemoryStore();
    store.plans.set(`${BATCH.batchId}/cpu`, [RUN]);
    await store.writeRun({ key: RUN.key, lane: 'cpu', batchId: 'older', status: 'failed', attempt: 1, args: [] });
    const launcher = new OneStatusLauncher(exited0);
    const start = createStartRun({ settings: SETTINGS, store: store.asStore, launcher, now: () => NOW, log: quiet });

    // Act
    await start({ batch: BATCH, lane: 'cpu', start: 0, cursor: 0, end: 1 });

    // Assess
    expect(launcher.launches[0].records).toEqual({
      mode: 'direct',
      bucket: 'raw-results',
      prefix: PREFIX,
      flag: '--output',
    });
    expect(store.runs.get(RUN.key)).toMatchObject({ attempt: 2, recordsUri: `s3://raw-results/${PREFIX}` });
  });
});

describe('createCheckRun: counting what arrived', () => {
  it("counts every object below the run's prefix, over all pages, and records the run done with the count", async () => {
    // Prepare
    s3.on(ListObjectsV2Command, { Bucket: 'raw-results', Prefix: PREFIX, ContinuationToken: undefined })
      .resolves(page([`${PREFIX}000000-1.json`, `${PREFIX}000001-2.json`], 'token-2'))
      .on(ListObjectsV2Command, { Bucket: 'raw-results', Prefix: PREFIX, ContinuationToken: 'token-2' })
      .resolves(page([`${PREFIX}000002-3.json`, `${PREFIX}nested/`]));

    // Act
    const { result, state } = await checkAfterExit(exited0);

    // Assess: the folder placeholder is no record
    expect(result).toEqual({ ended: true, key: RUN.key, status: 'done' });
    expect(state).toMatchObject({ status: 'done', exitCode: 0, records: 3, recordsUri: `s3://raw-results/${PREFIX}` });
    expect(state?.detail).toBeUndefined();
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(2);
  });

  it(`fails a run that exited 0 but delivered nothing, with the reason ${NO_RECORDS_DELIVERED}`, async () => {
    // Prepare: S3 answers an empty prefix without Contents
    s3.on(ListObjectsV2Command).resolves({ ...page([]), Contents: undefined });

    // Act
    const { result, state } = await checkAfterExit(exited0);

    // Assess
    expect(result).toEqual({ ended: true, key: RUN.key, status: 'failed' });
    expect(state).toMatchObject({
      status: 'failed',
      exitCode: 0,
      records: 0,
      detail: `${NO_RECORDS_DELIVERED}: the run exited 0 but no record arrived below s3://raw-results/${PREFIX}`,
    });
  });

  it('keeps a failed run failed with its own reason, and still records what it delivered', async () => {
    // Prepare
    s3.on(ListObjectsV2Command).resolves(page([`${PREFIX}000000-1.json`]));

    // Act
    const { state } = await checkAfterExit({
      state: 'exited',
      exitCode: 98,
      stderrTail: 'AccessDenied',
      detail: 'upload failed',
    });

    // Assess
    expect(state).toMatchObject({ status: 'failed', exitCode: 98, records: 1, detail: 'upload failed' });
  });

  it('judges a run launched before delivery existed (no recordsUri) by its exit code alone, listing nothing', async () => {
    // Act
    const { state } = await checkAfterExit(exited0, {});

    // Assess
    expect(state).toMatchObject({ status: 'done', exitCode: 0 });
    expect(state?.records).toBeUndefined();
    expect(s3.commandCalls(ListObjectsV2Command)).toHaveLength(0);
  });

  it("lets a listing error through for the task's Retry, writing nothing", async () => {
    // Prepare
    s3.on(ListObjectsV2Command).rejects(
      new S3ServiceException({
        name: 'SlowDown',
        $fault: 'server',
        $metadata: { httpStatusCode: 503 },
        message: 'Please reduce your request rate.',
      }),
    );

    // Act + Assess
    await expect(checkAfterExit(exited0)).rejects.toMatchObject({ name: 'SlowDown' });
  });
});

describe('the summary: producedRecords', () => {
  async function summaryOf(...states: Array<Partial<RunState> & { key: string }>) {
    const store = new MemoryStore();
    store.batch = { ...BATCH, input: {}, lanes: { cpu: 2 } };
    store.plans.set(`${BATCH.batchId}/cpu`, [RUN, OTHER]);
    for (const state of states) {
      await store.writeRun({ lane: 'cpu', batchId: BATCH.batchId, status: 'done', attempt: 1, args: [], ...state });
    }
    return readBatchProgress(store.asStore, BATCH.batchId, NOW);
  }

  it("is true once this batch's runs delivered records, with their sum", async () => {
    // Act
    const summary = await summaryOf({ key: RUN.key, records: 1 }, { key: OTHER.key, status: 'failed', records: 0 });

    // Assess
    expect(summary).toMatchObject({ producedRecords: true, records: 1, totals: { done: 1, failed: 1 } });
  });

  it("is false when no record arrived, even with runs that exited 0 (another batch's records left out)", async () => {
    // Act
    const summary = await summaryOf(
      { key: RUN.key, status: 'failed', exitCode: 0, records: 0, detail: NO_RECORDS_DELIVERED },
      { key: OTHER.key, batchId: 'older', records: 4 },
    );

    // Assess
    expect(summary).toMatchObject({ producedRecords: false, records: 0 });
  });
});
