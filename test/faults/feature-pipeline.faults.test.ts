/**
 * Fault injection on the real local data plane: the "feature processing" state machine runs
 * (embedded runner), a fault is injected at a known point of job 1 - after one of its table
 * commits, before its ledger commit - and the state machine's own Retry (pauses shortened) has to
 * bring the run to success with every table holding exactly the rows the records imply: nothing
 * lost, nothing written twice. Run with `npm run test:faults` (not part of `npm test`).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { BASE_TABLES, isolatedPipeline, uploadRecords } from '../e2e/harness';
import {
  type Component,
  committedTables,
  dataplaneHealthy,
  descendants,
  driverPid,
  expectedCounts,
  killDriver,
  killHard,
  type Live,
  newFaultRecord,
  pick,
  reportFaults,
  sleep,
  startComponent,
  startLive,
  stateCount,
  stopComponent,
  submittedJobs,
  tableCounts,
  waitFor,
  workerPid,
} from './faults';

const MINUTES = 60_000;
const RECORDS = 4;
const EXPECTED = { ...expectedCounts(RECORDS), ingestion_plan: RECORDS, rejected_files: 0 };
const POLICY = {
  retries: 3,
  retryIntervalSeconds: 60,
  backoffRate: 1,
  maxRetryDelaySeconds: 600,
  timeoutSeconds: 900,
  slaSeconds: 900,
};
// Every Retry of the job phases and their steps pauses 2 s instead of minutes.
const SHORT_RETRIES = Object.fromEntries(
  ['Feature', 'MlFeature'].flatMap((label) =>
    [`${label}Job`, `Submit${label}Job`, `Get${label}JobStatus`, `Cancel${label}Job`, `Read${label}Summary`].map(
      (state) => [state, 2000],
    ),
  ),
);

function faultPipeline() {
  return isolatedPipeline({
    pollMs: 1000,
    context: { jobs: { features: POLICY, mlFeatures: POLICY } },
    retryOverridesMs: SHORT_RETRIES,
  });
}

interface Injected {
  /** Where in job 1 the fault hit (for the table). */
  readonly injectedAt: string;
}

/**
 * Runs the whole pipeline on RECORDS new records; once job 1's driver has logged the commit of
 * its first base table (and not yet its ledger), `inject` runs. Then the run must succeed with
 * exact counts in every table and the success notification delivered.
 */
async function survives(
  fault: string,
  runId: string,
  inject: (ctx: { driverId: string; committed: string[]; namespace: string; live: Live }) => Promise<Injected>,
): Promise<void> {
  const started = Date.now();
  const record = newFaultRecord(fault);
  const { pipeline, rawPrefix, id } = faultPipeline();
  const namespace = `e2e_${id}`;
  let live: Live | undefined;
  try {
    uploadRecords(rawPrefix, RECORDS);
    const execution = startLive(pipeline, {}, runId);
    live = execution;
    let finished = false;
    void live.done.then(() => {
      finished = true;
    });

    // The injection point: job 1 has committed a base table, not yet processing_metadata and the ledger.
    const driverId = await waitFor('job 1 to be submitted', () => submittedJobs(execution)[0], 5 * MINUTES);
    const committed = await waitFor(
      'job 1 to commit its first table',
      () => {
        if (finished) throw new Error('the execution ended before the fault could be injected');
        const tables = committedTables(driverId);
        const base = tables.filter((t) => BASE_TABLES.includes(t));
        return base.length > 0 ? base : undefined;
      },
      5 * MINUTES,
      50,
    );
    const injected = await inject({ driverId, committed, namespace, live });
    record.injectedAt = injected.injectedAt;

    const result = await live.done;
    expect(result.error, JSON.stringify(result.error)).toBeUndefined();
    const attempts = stateCount(live, 'StateEntered', 'SubmitFeatureJob');
    const retried = stateCount(live, 'StateRetried', 'FeatureJob');
    record.recoveredBy =
      attempts > 1 ? `FeatureJob Retry (${attempts} submissions, resumed batch)` : 'in-job retries (1 submission)';

    const counts = pick(await tableCounts(namespace), EXPECTED);
    record.rowsExact = JSON.stringify(counts) === JSON.stringify(EXPECTED) ? 'yes (15 tables)' : 'NO';
    expect(counts).toEqual(EXPECTED);

    const deliveries = pipeline.bus.deliveries.map((d) => d.message).join('\n');
    const alerted = new RegExp(`run ${runId} succeeded`).test(deliveries);
    record.alert = alerted ? `"run ${runId} succeeded"` : 'none';
    expect(alerted, deliveries).toBe(true);
    expect(deliveries).not.toMatch(new RegExp(`${runId} ended FAILED`));
    expect(retried).toBe(attempts - 1);
    record.result = 'pass';
  } catch (failure) {
    record.recoveredBy = `${record.recoveredBy} - ${String((failure as Error).message)
      .split('\n')[0]
      .slice(0, 80)}`;
    throw failure;
  } finally {
    if (record.result !== 'pass' && live) {
      // A failed case must not leave its execution and drivers running into the next case.
      live.abort();
      for (const job of [...submittedJobs(live), ...submittedJobs(live, 'SubmitMlFeatureJob')]) await killDriver(job);
    }
    // The R2 sync the success starts must not overlap the next case's fault.
    await Promise.all((pipeline.r2Sync?.triggered ?? []).map((t) => t.result.catch(() => undefined)));
    record.seconds = Math.round((Date.now() - started) / 1000);
    if (!dataplaneHealthy()) {
      for (const component of ['postgres', 'garage', 'spark-master', 'spark-worker'] as Component[])
        startComponent(component);
    }
  }
}

describe('faults injected in job 1 of the feature pipeline', () => {
  afterAll(() => {
    reportFaults();
  });

  it(
    'driver JVM killed (kill -9) between two table commits: the phase Retry resumes the batch exactly',
    async () => {
      await survives('driver kill -9', 'faults-driver', async ({ driverId, committed, namespace, live }) => {
        const pid = await waitFor('the driver JVM', () => driverPid(driverId), 10_000);
        killHard([pid]);
        await waitFor('the driver JVM to end', () => (driverPid(driverId) === undefined ? true : undefined), 30_000);
        // Proof that the kill fell between two commits: some rows committed, the ledger not.
        const partial = await tableCounts(namespace);
        expect(partial.molecules + partial.vqe_results + partial.hamiltonian_terms).toBeGreaterThan(0);
        expect(partial.ingested_files ?? 0).toBe(0);
        expect(stateCount(live, 'StateEntered', 'SubmitFeatureJob')).toBe(1);
        return { injectedAt: `after ${committed.join('+')} commit, before ledger (${driverId})` };
      });
    },
    15 * MINUTES,
  );

  it(
    'Spark worker killed (with its driver and executors) mid-job, restarted: the phase resubmits',
    async () => {
      await survives('worker kill -9', 'faults-worker', async ({ driverId, committed, namespace }) => {
        const worker = await waitFor('the worker pid', () => workerPid(), 1000);
        const tree = descendants(worker);
        stopComponent('spark-worker', 'KILL');
        killHard(tree); // a lost machine takes its drivers and executors with it
        await waitFor('the driver JVM to end', () => (driverPid(driverId) === undefined ? true : undefined), 30_000);
        expect(dataplaneHealthy()).toBe(false);
        const partial = await tableCounts(namespace);
        expect(partial.ingested_files ?? 0).toBe(0);
        await sleep(5000);
        startComponent('spark-worker');
        return { injectedAt: `after ${committed.join('+')} commit; worker down 5 s` };
      });
    },
    15 * MINUTES,
  );

  it(
    'Garage (S3) stopped for 30 s during the table writes, then started: the run completes exactly',
    async () => {
      await survives('Garage down 30 s', 'faults-garage', async ({ committed }) => {
        stopComponent('garage');
        expect(dataplaneHealthy()).toBe(false);
        await sleep(30_000);
        startComponent('garage');
        return { injectedAt: `after ${committed.join('+')} commit; S3 down 30 s` };
      });
    },
    15 * MINUTES,
  );

  it(
    'PostgreSQL (the Iceberg catalog) restarted between two commits: the run completes exactly',
    async () => {
      await survives('catalog restart', 'faults-catalog', async ({ committed }) => {
        stopComponent('postgres');
        expect(dataplaneHealthy()).toBe(false);
        startComponent('postgres');
        return { injectedAt: `after ${committed.join('+')} commit; catalog restarted` };
      });
    },
    15 * MINUTES,
  );
});
