/**
 * Polls a launched run. When it has ended, its state becomes done (exit code 0) or failed; when
 * it passes its deadline, it is stopped and becomes timed_out. Either way the loop moves on.
 *
 * An ended run's records are counted where its launch delivered them (its state's recordsUri,
 * one listing): the count is the state's `records`, and a run that exited 0 but delivered
 * nothing is failed with the reason NO_RECORDS_DELIVERED, so done always means "records arrived".
 *
 * When a run has ended, the lane's progress changed: it is read from the run states and
 * published as metrics per lane (RunsDone, RunsFailed, RunsTimedOut, RunsPending, EtaSeconds,
 * MeanRunSeconds), the live view of a batch. Reading it costs one GET per run of the lane, once
 * per ended run; should it fail, a WARN says so and the run's outcome stands.
 */
import { Logger } from '../../core/logger';
import { METRIC_JOBS, type MetricEmitter, metricEmitterFromEnv } from '../../core/metrics';
import { parseEvent } from '../../core/validation';
import { type BatchRef, CheckRunEvent, type Lane, type RunState, type RunStatusName } from '../contract';
import { NO_RECORDS_DELIVERED, parseRecordsUri } from '../delivery';
import type { PlannedRun } from '../plan';
import { laneProgress } from '../progress';
import type { RecordCounter } from '../record-count';
import type { RunStateStore } from '../state-store';
import type { RunStepDeps } from './start-run';

export type CheckRunResult =
  | { readonly ended: false; readonly key: string }
  | { readonly ended: true; readonly key: string; readonly status: RunStatusName };

export function createCheckRun({
  store,
  launcher,
  records,
  now = Date.now,
  log = new Logger('vqe-batch-check-run'),
  metrics = metricEmitterFromEnv(process.env, { log }),
}: Omit<RunStepDeps, 'settings'> & {
  /** Counts an ended run's records below its recordsUri. */
  readonly records: RecordCounter;
  /** @default EMF lines on standard output, Stack from QP_STACK_NAME (none without it) */
  readonly metrics?: MetricEmitter;
}) {
  const publish = lanePublisher(store, metrics, now);
  return async (event: unknown): Promise<CheckRunResult> => {
    const { batch, lane, run } = parseEvent(CheckRunEvent, event, 'check-run');
    const runLog = log.with({ batchId: batch.batchId, lane, runKey: run.key });
    let status = await launcher.status(run.handle);
    let timedOut = false;
    if (status.state === 'running') {
      if (now() <= Date.parse(run.deadline)) return { ended: false, key: run.key };
      await launcher.stop(run.handle);
      status = await launcher.status(run.handle);
      timedOut = true;
    }
    const previous = await store.readRun(run.key);
    const exited = status.state === 'exited' ? status : undefined;
    let outcome: RunStatusName = timedOut ? 'timed_out' : exited?.exitCode === 0 ? 'done' : 'failed';
    let detail = timedOut ? `no exit within ${batch.runTimeoutSeconds} s: stopped` : exited?.detail;
    // A state without recordsUri was launched before delivery existed: its exit code alone tells.
    const target = previous?.recordsUri === undefined ? undefined : parseRecordsUri(previous.recordsUri);
    const delivered = target === undefined ? undefined : await records.count(target.bucket, target.prefix);
    if (outcome === 'done' && delivered === 0) {
      outcome = 'failed';
      detail = `${NO_RECORDS_DELIVERED}: the run exited 0 but no record arrived below ${previous?.recordsUri}`;
    }
    const state: RunState = {
      key: run.key,
      lane,
      batchId: batch.batchId,
      attempt: previous?.attempt ?? 1,
      args: previous?.args ?? [],
      startedAt: previous?.startedAt,
      deadline: run.deadline,
      handle: run.handle,
      status: outcome,
      endedAt: new Date(now()).toISOString(),
      exitCode: exited ? exited.exitCode : null,
      stderrTail: exited?.stderrTail ?? '',
      ...(detail ? { detail } : {}),
      ...(previous?.recordsUri === undefined ? {} : { recordsUri: previous.recordsUri }),
      ...(delivered === undefined ? {} : { records: delivered }),
    };
    await store.writeRun(state);
    runLog[outcome === 'done' ? 'info' : 'warn']('run ended', {
      status: outcome,
      exitCode: state.exitCode,
      records: state.records,
      detail: state.detail,
    });
    await publish(batch, lane).catch((error: unknown) =>
      runLog.warn('lane progress not published', { error: error instanceof Error ? error : String(error) }),
    );
    return { ended: true, key: run.key, status: outcome };
  };
}

/** Publishes a lane's progress as one EMF line; the lane's plan is read once per container. */
function lanePublisher(store: RunStateStore, metrics: MetricEmitter, now: () => number) {
  const plans = new Map<string, Promise<PlannedRun[]>>();
  return async (batch: BatchRef, lane: Lane): Promise<void> => {
    if (metrics.stack === undefined) return; // nothing would be written: spare the reads
    const id = `${batch.batchId}/${lane}`;
    let plan = plans.get(id);
    if (!plan) {
      plan = store.readPlan(batch.batchId, lane);
      plan.catch(() => plans.delete(id));
      plans.set(id, plan);
    }
    const keys = (await plan).map((run) => run.key);
    const progress = laneProgress(batch, lane, keys, await store.readRuns(keys), now());
    const where = { Lane: lane };
    const line = metrics
      .batch(METRIC_JOBS.vqeBatch, { RunId: batch.batchId })
      .put('runsDone', progress.done, where)
      .put('runsFailed', progress.failed, where)
      .put('runsTimedOut', progress.timed_out, where)
      // Not ended yet, waiting or running: done + failed + timed out + pending = the lane's planned runs.
      .put('runsPending', progress.pending + progress.in_progress, where);
    // Unknown until a run of the batch has ended: left out rather than written as 0.
    if (progress.etaSeconds !== null) line.put('etaSeconds', progress.etaSeconds, where);
    if (progress.meanRunSeconds !== null) line.put('meanRunSeconds', progress.meanRunSeconds, where);
    line.flush();
  };
}
