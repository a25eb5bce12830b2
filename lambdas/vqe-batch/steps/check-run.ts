/**
 * Polls a launched run. When it has ended, its state becomes done (exit code 0) or failed; when
 * it passes its deadline, it is stopped and becomes timed_out. Either way the loop moves on.
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
import type { PlannedRun } from '../plan';
import { laneProgress } from '../progress';
import type { RunStateStore } from '../state-store';
import type { RunStepDeps } from './start-run';

export type CheckRunResult =
  | { readonly ended: false; readonly key: string }
  | { readonly ended: true; readonly key: string; readonly status: RunStatusName };

export function createCheckRun({
  store,
  launcher,
  now = Date.now,
  log = new Logger('vqe-batch-check-run'),
  metrics = metricEmitterFromEnv(process.env, { log }),
}: Omit<RunStepDeps, 'settings'> & {
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
    const outcome: RunStatusName = timedOut ? 'timed_out' : exited?.exitCode === 0 ? 'done' : 'failed';
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
      ...(timedOut
        ? { detail: `no exit within ${batch.runTimeoutSeconds} s: stopped` }
        : exited?.detail
          ? { detail: exited.detail }
          : {}),
    };
    await store.writeRun(state);
    runLog[outcome === 'done' ? 'info' : 'warn']('run ended', {
      status: outcome,
      exitCode: state.exitCode,
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
