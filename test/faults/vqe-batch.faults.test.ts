/**
 * Fault injection in "vqe batch generation": the mini-VQE process of the first run is killed
 * (SIGKILL) while it computes. The lane must record that run as failed and go on with the others,
 * and a re-trigger must run it again, so that every planned run ends done with exactly one record
 * each. Run with `npm run test:faults`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import type { BatchProgress } from '../../lambdas/vqe-batch/contract';
import type { Launcher, RunHandle } from '../../lambdas/vqe-batch/launcher';
import { tierRuns } from '../../lambdas/vqe-batch/plan';
import { logicalIdOf } from '../../localstack/embedded/definition';
import { createLocalPipeline, dataplaneFromEnv } from '../../localstack/embedded/local-pipeline';
import { miniVqeProcessLauncher } from '../../localstack/embedded/local-vqe-batch';
import { execute } from '../e2e/harness';
import { removeAll } from '../r2-sync/support';
import { descendants, faultCase, killHard, reportFaults, startLive, waitFor } from './faults';

const id = randomBytes(4).toString('hex');
const MINUTES = 60_000;
const RUNS = 3;
const root = `faults-batch-${id}/`;
const s3 = new S3Client({
  endpoint: process.env.QP_S3_ENDPOINT,
  region: process.env.QP_S3_REGION,
  forcePathStyle: true,
});

afterAll(async () => {
  reportFaults();
  await removeAll(s3, 'raw-results', root);
});

describe('faults injected in a VQE batch', () => {
  it(
    'a mini-VQE run killed mid-computation is recorded failed, the lane goes on, a re-trigger completes the batch exactly',
    async () => {
      await faultCase('mini-VQE run kill -9', async (record) => {
        // Prepare: a launcher that hands out the handles of the runs it starts.
        const real = miniVqeProcessLauncher(process.env);
        const handles: RunHandle[] = [];
        const watching: Launcher = {
          kind: real.kind,
          launch: async (request) => {
            const handle = await real.launch(request);
            handles.push(handle);
            return handle;
          },
          status: (handle) => real.status(handle),
          stop: (handle) => real.stop(handle),
        };
        const local = createLocalPipeline({
          dataplane: dataplaneFromEnv(process.env),
          batch: {
            settings: {
              statePrefix: `${root}state/`,
              delivery: {
                mode: 'host-upload',
                bucket: 'raw-results',
                prefix: `${root}experiment.vqe/`,
                folderFlag: '--output-dir',
                s3Flag: '--output',
              },
            },
            pollMs: 300,
            launcher: watching,
          },
        });
        const starts: unknown[] = [];
        local.bus.connectStateMachine(logicalIdOf(local.stack, local.stack.pipeline.stateMachine), (input) =>
          starts.push(input),
        );
        const batch = local.vqeBatch!;
        const records = async () =>
          (
            (await s3.send(new ListObjectsV2Command({ Bucket: 'raw-results', Prefix: `${root}experiment.vqe/` })))
              .Contents ?? []
          ).map((o) => o.Key!);
        const runs = tierRuns(1).cpu.slice(0, RUNS);

        // Act: kill the first run's mini-VQE (not its wrapper shell) once it has built its Hamiltonian
        // (its log says so), i.e. while it optimizes and before it uploads its record.
        const live = startLive(batch, { lanes: ['cpu'], limit: RUNS }, `faults-${id}-first`);
        const first = (await waitFor('the first run to be launched', () => handles[0], 2 * MINUTES)) as {
          pid: number;
          runDir: string;
        };
        const program = await waitFor(
          'mini-VQE to log its Hamiltonian',
          () => {
            const log = join(first.runDir, 'stderr.log');
            if (!existsSync(log) || !/ qubits, /.test(readFileSync(log, 'utf8'))) return undefined;
            const pids = descendants(first.pid);
            return pids.length > 0 ? pids : undefined;
          },
          60_000,
          10,
        );
        killHard(program);
        expect(existsSync(join(first.runDir, 'exit-code.tmp')) || existsSync(join(first.runDir, 'exit-code'))).toBe(
          false,
        );
        record.injectedAt = `run ${runs[0].key} optimizing (after its Hamiltonian log line)`;
        const firstRun = await live.done;
        const afterKill = await batch.store.readRun(runs[0].key);
        const recordsAfterKill = await records();

        // The re-trigger: a new batch that plans what is not done yet, in order: the killed run first.
        const again = await execute(batch, { lanes: ['cpu'], limit: 1 }, `faults-${id}-again`);

        // Assess: the kill was recorded, the lane went on, the rerun completed it, nothing doubled.
        expect(firstRun.error).toBeUndefined();
        const progress = firstRun.output?.progress as BatchProgress;
        expect(progress.totals).toMatchObject({ planned: RUNS, done: RUNS - 1, failed: 1 });
        expect(afterKill).toMatchObject({ status: 'failed', exitCode: 137, attempt: 1 });
        expect(recordsAfterKill).toHaveLength(RUNS - 1);
        expect(again.error).toBeUndefined();
        const resumed = again.output?.progress as BatchProgress;
        expect(resumed.totals).toMatchObject({ planned: 1, done: 1, failed: 0 });
        expect(await batch.store.readRun(runs[0].key)).toMatchObject({ status: 'done', attempt: 2 });
        expect(await records()).toHaveLength(RUNS);
        record.recoveredBy = 'lane went on; re-trigger reran the failed run (attempt 2)';
        record.rowsExact = `yes (${RUNS} runs done, ${RUNS} records)`;

        const finished = local.bus.events.filter((e) => e['detail-type'] === 'VQE Batch Finished');
        expect(finished[0]?.detail).toMatchObject({ totals: { done: RUNS - 1, failed: 1 } });
        record.alert = `VQE Batch Finished (failed: 1), then (done: 1); ${starts.length} pipeline trigger(s)`;
      });
    },
    10 * MINUTES,
  );
});
