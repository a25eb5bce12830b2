/**
 * The synthesized "vqe batch generation" state machines executed locally: the parent starts the
 * chunk machine per chunk, the local process launcher runs the real mini-VQE, and the run states
 * and records land in the local Garage. One batch has a run that fails (a GPU lane: mini-VQE has
 * no GPU), the next has a run that times out, and a re-trigger resumes it; one run exits 0 but
 * delivers nothing. The records go both ways: host-upload (mini-VQE writes into its run folder,
 * which is uploaded) and direct (mini-VQE writes to S3), and CheckRun counts what arrived.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import { type BatchProgress, type DeliveryMode, NO_RECORDS_DELIVERED } from '../../lambdas/vqe-batch/contract';
import { containerNameFor, type Launcher, type RunHandle } from '../../lambdas/vqe-batch/launcher';
import { tierRuns } from '../../lambdas/vqe-batch/plan';
import { readBatchProgress } from '../../lambdas/vqe-batch/steps/summary';
import { logicalIdOf } from '../../localstack/embedded/definition';
import { createLocalPipeline, dataplaneFromEnv, type LocalPipeline } from '../../localstack/embedded/local-pipeline';
import { miniVqeProcessLauncher } from '../../localstack/embedded/local-vqe-batch';
import { removeAll } from '../r2-sync/support';
import { openReport, pointsPerChart } from '../report/browser';
import { entered, execute } from './harness';

const id = randomBytes(4).toString('hex');
const MINUTES = 60_000;
const s3 = new S3Client({
  endpoint: process.env.QP_S3_ENDPOINT,
  region: process.env.QP_S3_REGION,
  forcePathStyle: true,
});

/** The rule of a finished batch starts the feature pipeline; in these tests its starts are only recorded. */
function recordPipelineStarts(local: LocalPipeline): unknown[] {
  const starts: unknown[] = [];
  local.bus.connectStateMachine(logicalIdOf(local.stack, local.stack.pipeline.stateMachine), (input) =>
    starts.push(input),
  );
  return starts;
}

/**
 * A local deployment of its own for one test: run states and records under the test's own
 * prefix, so no test depends on what another one left behind. The process launcher is chosen
 * explicitly: npm test builds no Docker image, so a Docker socket on the machine must not switch
 * these tests to the Docker launcher.
 */
function isolatedBatch(
  name: string,
  launcher: Launcher = miniVqeProcessLauncher(process.env),
  retryOverridesMs?: Record<string, number>,
  mode: DeliveryMode = 'host-upload',
) {
  const root = `e2e-batch-${id}/${name}/`;
  const delivery = {
    mode,
    bucket: 'raw-results',
    prefix: `${root}experiment.vqe/`,
    folderFlag: '--output-dir',
    s3Flag: '--output',
  };
  const local = createLocalPipeline({
    dataplane: dataplaneFromEnv(process.env),
    batch: {
      settings: { statePrefix: `${root}state/`, delivery },
      pollMs: 300,
      launcher,
      retryOverridesMs,
    },
  });
  const records = async (): Promise<string[]> => {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: 'raw-results', Prefix: `${root}experiment.vqe/` }));
    return (page.Contents ?? []).map((object) => object.Key!);
  };
  /** Where a launch of a run delivers: its own prefix, by container name and attempt. */
  const runPrefix = (runKey: string, attempt: number) =>
    `${delivery.prefix}${containerNameFor(runKey)}/attempt-${attempt}/`;
  return { pipeline: local, batch: local.vqeBatch!, starts: recordPipelineStarts(local), records, runPrefix };
}

afterAll(async () => {
  await removeAll(s3, 'raw-results', `e2e-batch-${id}/`);
});

const cpuRuns = tierRuns(1).cpu;
const gpu1First = tierRuns(1).gpu1[0];

describe('vqe batch generation, executed locally with mini-VQE', () => {
  it(
    'runs the lanes, records a failing run without stopping its lane, and announces the finished batch',
    async () => {
      // Prepare
      const { pipeline, batch, starts, records, runPrefix } = isolatedBatch('lanes');

      // Act
      const run = await execute(batch, { lanes: ['cpu', 'gpu1'], limit: 3 }, `e2e-${id}-first`);

      // Assess: two cpu runs done, the gpu1 run failed with mini-VQE's own refusal
      expect(run.error).toBeUndefined();
      const progress = run.output?.progress as BatchProgress;
      expect(progress.lanes.map((lane) => [lane.lane, lane.planned, lane.done, lane.failed])).toEqual([
        ['cpu', 2, 2, 0],
        ['gpu1', 1, 0, 1],
      ]);
      expect(progress).toMatchObject({ finished: true, totals: { done: 2, failed: 1, pending: 0, planned: 3 } });
      const failed = await batch.store.readRun(gpu1First.key);
      expect(failed).toMatchObject({ status: 'failed', exitCode: 2, attempt: 1 });
      expect(failed?.stderrTail).toMatch(/--gpu: mini-vqe simulates on the CPU only/);
      const done = await batch.store.readRun(cpuRuns[1].key);
      expect(done).toMatchObject({
        status: 'done',
        exitCode: 0,
        records: 1,
        recordsUri: `s3://raw-results/${runPrefix(cpuRuns[1].key, 1)}`,
      });
      expect(Date.parse(done!.endedAt!)).toBeGreaterThan(Date.parse(done!.startedAt!));
      // host-upload: each cpu run's folder uploaded below its own prefix, one record each; the
      // failed run delivered nothing.
      const delivered = await records();
      expect(delivered).toHaveLength(2);
      expect(delivered).toEqual(
        expect.arrayContaining(
          [cpuRuns[0], cpuRuns[1]].map((run) =>
            expect.stringMatching(new RegExp(`^${runPrefix(run.key, 1)}\\d{6}-\\d+\\.json$`)),
          ),
        ),
      );
      expect(failed?.records).toBe(0);
      expect(progress.records).toBe(2);
      // Each lane's chunk ran as a child execution of the chunk machine, which reported its tally.
      expect((run.output?.chunks as unknown[][] | undefined)?.flat()).toEqual([
        { lane: 'cpu', start: 0, end: 2, tally: { pending: 0, in_progress: 0, done: 2, failed: 0, timed_out: 0 } },
        { lane: 'gpu1', start: 0, end: 1, tally: { pending: 0, in_progress: 0, done: 0, failed: 1, timed_out: 0 } },
      ]);
      const finishedEvent = pipeline.bus.events.find((event) => event['detail-type'] === 'VQE Batch Finished');
      expect(finishedEvent?.detail).toMatchObject({
        batchId: progress.batchId,
        producedRecords: true,
        records: 2,
        totals: { done: 2, failed: 1 },
      });
      expect(starts).toEqual([{ trigger: 'vqe-batch' }]);

      // The batch's page: written before the event, named in it, and sound in a browser.
      const uri = `s3://artifacts/reports/${progress.batchId}.html`;
      expect(run.output?.report).toEqual({ written: true, uri });
      expect(finishedEvent?.detail).toMatchObject({ report: { written: true, uri } });
      const page = await s3.send(
        new GetObjectCommand({ Bucket: 'artifacts', Key: `reports/${progress.batchId}.html` }),
      );
      const report = await openReport(await page.Body!.transformToString('utf-8'));
      try {
        const verdict = await report.page.$eval('#verdict', (e) => e.textContent);
        const lanes = await report.page.$$eval('#lanes-table tbody tr', (rows) =>
          rows.map((r) => [
            r.querySelector('th')?.textContent,
            ...[...r.querySelectorAll('td')].slice(0, 3).map((td) => td.textContent),
            [...r.querySelectorAll('td')].at(-1)?.textContent,
          ]),
        );
        const points = await pointsPerChart(report.page);

        expect(verdict).toBe('Finished: 2 of 3 run(s) done, 1 failed or timed out.');
        expect(lanes).toEqual([
          // lane, planned, done, failed ... records delivered (1 per cpu run, none from the failed gpu1 run)
          ['cpu', '2', '2', '0', '2'],
          ['gpu1', '1', '0', '1', '0'],
        ]);
        expect(points['run-durations']).toBe(3);
        expect(report.problems).toEqual([]);
        expect(report.requests).toEqual([]);
      } finally {
        await report.browser.close();
      }
    },
    5 * MINUTES,
  );

  it(
    'stops a run that passes its timeout and records it timed_out; a re-trigger resumes with it',
    async () => {
      // Prepare
      const { batch, records, runPrefix } = isolatedBatch('timeout', undefined, undefined, 'direct');

      // Act: the first cpu run gets one second (mini-VQE needs several)
      const timedOut = await execute(batch, { lanes: ['cpu'], limit: 1, runTimeoutSeconds: 1 }, `e2e-${id}-timeout`);
      const stateAfterTimeout = await batch.store.readRun(cpuRuns[0].key);
      const resumed = await execute(batch, { lanes: ['cpu'], limit: 1 }, `e2e-${id}-resume`);

      // Assess
      expect(timedOut.error).toBeUndefined();
      expect((timedOut.output?.progress as BatchProgress | undefined)?.totals).toMatchObject({ timed_out: 1, done: 0 });
      expect(stateAfterTimeout).toMatchObject({
        status: 'timed_out',
        attempt: 1,
        detail: 'no exit within 1 s: stopped',
        records: 0,
      });
      expect(resumed.error).toBeUndefined();
      const resumedProgress = resumed.output?.progress as BatchProgress;
      expect(resumedProgress.lanes).toEqual([expect.objectContaining({ lane: 'cpu', planned: 1, done: 1 })]);
      expect(await batch.store.readRun(cpuRuns[0].key)).toMatchObject({
        status: 'done',
        attempt: 2,
        batchId: resumedProgress.batchId,
        records: 1,
      });
      // direct: mini-VQE wrote its record to the second launch's own prefix itself.
      expect(await records()).toEqual([
        expect.stringMatching(new RegExp(`^${runPrefix(cpuRuns[0].key, 2)}\\d{6}-\\d+\\.json$`)),
      ]);
      // The batch CLI reads the same progress from S3.
      expect((await readBatchProgress(batch.store, resumedProgress.batchId, Date.now())).totals).toMatchObject({
        done: 1,
        planned: 1,
      });
    },
    5 * MINUTES,
  );

  it(
    'fails a run that exits 0 but delivers nothing, with the reason, and announces no records',
    async () => {
      // Prepare: the fault: mini-VQE is launched without its output arguments (as an image whose
      // output flag is misconfigured), so it prints its record to stdout and exits 0.
      const real = miniVqeProcessLauncher(process.env);
      const noOutput: Launcher = {
        kind: real.kind,
        launch: ({ records: _dropped, ...request }) => real.launch(request),
        status: (handle) => real.status(handle),
        stop: (handle) => real.stop(handle),
      };
      const { pipeline, batch, starts, records, runPrefix } = isolatedBatch('no-records', noOutput);

      // Act
      const run = await execute(batch, { lanes: ['cpu'], limit: 1 }, `e2e-${id}-no-records`);

      // Assess
      expect(run.error).toBeUndefined();
      const progress = run.output?.progress as BatchProgress;
      expect(progress).toMatchObject({ records: 0, totals: { done: 0, failed: 1, planned: 1 } });
      expect(await batch.store.readRun(cpuRuns[0].key)).toMatchObject({
        status: 'failed',
        exitCode: 0,
        records: 0,
        detail: `${NO_RECORDS_DELIVERED}: the run exited 0 but no record arrived below s3://raw-results/${runPrefix(cpuRuns[0].key, 1)}`,
      });
      expect(await records()).toEqual([]);
      const finishedEvent = pipeline.bus.events.find((event) => event['detail-type'] === 'VQE Batch Finished');
      expect(finishedEvent?.detail).toMatchObject({ producedRecords: false, records: 0 });
      expect(starts).toEqual([]);
    },
    5 * MINUTES,
  );

  it(
    'plans a dry run without launching or writing anything, leaving out the runs done',
    async () => {
      // Prepare: three cpu runs done in an earlier batch
      const { batch } = isolatedBatch('dry-run');
      for (const run of cpuRuns.slice(0, 3)) {
        await batch.store.writeRun({
          key: run.key,
          lane: 'cpu',
          batchId: 'earlier-batch',
          status: 'done',
          attempt: 1,
          exitCode: 0,
          args: [],
        });
      }
      const batchesBefore = await batch.store.batchIds();
      // Act
      const run = await execute(batch, { lanes: ['cpu'], dryRun: true }, `e2e-${id}-dry`);
      // Assess
      expect(run.error).toBeUndefined();
      expect(run.output).toMatchObject({
        dryRun: true,
        total: 800,
        alreadyDone: 3,
        toRun: 797,
        lanes: [{ lane: 'cpu', runs: 797 }],
      });
      expect(run.output?.preview.cpu[0]).toBe(cpuRuns[3].key);
      expect(entered(run, 'RunLanes')).toHaveLength(0);
      expect(await batch.store.batchIds()).toEqual(batchesBefore);
    },
    MINUTES,
  );

  it(
    'refuses bad console input, naming the field and the value',
    async () => {
      const { batch } = isolatedBatch('bad-input');

      const run = await execute(batch, { tier: 7, lanes: ['cpu'] }, `e2e-${id}-bad`);

      expect(run.error?.name).toBe(ERROR_NAMES.invalidInput);
      expect(run.error?.message).toMatch(/tier: .*got 7/);
      // No batch was planned, so there is no page to write.
      expect(entered(run, 'IsBatchPlanned')).toHaveLength(1);
      expect(entered(run, 'WriteBatchFailureReport')).toHaveLength(0);
    },
    MINUTES,
  );
});

describe('vqe batch generation when a step keeps failing for one run', () => {
  it(
    'gives up on that run after its retries (left in_progress for the next batch) and goes on with the lane',
    async () => {
      // Prepare: the launcher cannot report on the first run it launches (as if its host vanished)
      const real = miniVqeProcessLauncher(process.env);
      let broken: RunHandle | undefined;
      const flaky: Launcher = {
        kind: real.kind,
        launch: async (request) => {
          const handle = await real.launch(request);
          broken ??= handle;
          return handle;
        },
        status: async (handle) => {
          if (JSON.stringify(handle) === JSON.stringify(broken))
            throw new Error('the host of this run does not answer');
          return real.status(handle);
        },
        stop: (handle) => real.stop(handle),
      };
      const { pipeline: local, starts } = isolatedBatch('flaky', flaky, { CheckRun: 50 });

      // Act
      const run = await execute(local.vqeBatch!, { lanes: ['cpu'], limit: 2 }, `e2e-${id}-flaky`);

      // Assess
      expect(run.error).toBeUndefined();
      const progress = run.output?.progress as BatchProgress;
      expect(progress.lanes).toEqual([expect.objectContaining({ lane: 'cpu', planned: 2, done: 1, in_progress: 1 })]);
      expect(progress.finished).toBe(false);
      expect(await local.vqeBatch!.store.readRun(cpuRuns[0].key)).toMatchObject({ status: 'in_progress' });
      expect(await local.vqeBatch!.store.readRun(cpuRuns[1].key)).toMatchObject({ status: 'done', exitCode: 0 });
      expect(starts).toEqual([{ trigger: 'vqe-batch' }]);
      if (broken) await real.stop(broken);
    },
    5 * MINUTES,
  );
});
