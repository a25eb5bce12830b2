/**
 * One turn of a chunk's loop: launches the run at the cursor, or, past the chunk's end, reports
 * the chunk's tally. A run the launcher refuses is recorded as failed and the loop moves on: one
 * bad run never stops its lane.
 */
import { RunLaunchError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import { type BatchSettings, ChunkCursor, RUN_STATUSES, type StartRunResult, type StatusTally } from '../contract';
import { type RunRecords, recordsUri, runRecordsPrefix } from '../delivery';
import type { Launcher } from '../launcher';
import { type Lane, type PlannedRun, runArguments } from '../plan';
import type { RunStateStore } from '../state-store';

export interface RunStepDeps {
  readonly settings: BatchSettings;
  readonly store: RunStateStore;
  readonly launcher: Launcher;
  readonly now?: () => number;
  readonly log?: Logger;
}

/** Lane plans by batch, kept for the life of the container (a chunk reads the same plan at every turn). */
function planCache(store: RunStateStore): (batchId: string, lane: Lane) => Promise<PlannedRun[]> {
  const cache = new Map<string, Promise<PlannedRun[]>>();
  return (batchId, lane) => {
    const id = `${batchId}/${lane}`;
    let plan = cache.get(id);
    if (!plan) {
      plan = store.readPlan(batchId, lane);
      plan.catch(() => cache.delete(id));
      cache.set(id, plan);
    }
    return plan;
  };
}

export function createStartRun({
  settings,
  store,
  launcher,
  now = Date.now,
  log = new Logger('vqe-batch-start-run'),
}: RunStepDeps) {
  const planOf = planCache(store);
  return async (event: unknown): Promise<StartRunResult> => {
    const { batch, lane, start, cursor, end } = parseEvent(ChunkCursor, event, 'start-run');
    const runs = await planOf(batch.batchId, lane);
    const chunkLog = log.with({ batchId: batch.batchId, lane });

    if (cursor >= end || cursor >= runs.length) {
      const states = await store.readRuns(runs.slice(start, end).map((run) => run.key));
      const tally = Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as Record<keyof StatusTally, number>;
      // As in the batch's progress: another batch's state is pending here, unless it is done.
      for (const state of states.values()) {
        tally[state && (state.batchId === batch.batchId || state.status === 'done') ? state.status : 'pending'] += 1;
      }
      chunkLog.info('chunk finished', { start, end, ...tally });
      return { finished: true, ended: true, chunk: { lane, start, end, tally } };
    }

    const run = runs[cursor];
    const runLog = chunkLog.with({ runKey: run.key });
    const previous = await store.readRun(run.key);
    if (previous?.status === 'done') {
      // Done meanwhile by another batch of the same tier: nothing to redo.
      runLog.info('run already done, skipped');
      return { finished: false, ended: true, key: run.key, status: 'done' };
    }
    if (
      previous?.status === 'in_progress' &&
      previous.batchId === batch.batchId &&
      previous.handle &&
      previous.deadline
    ) {
      // A retry of this step after the launch succeeded (its answer was lost): poll that run, never launch it twice.
      runLog.info('run launched by an earlier attempt of this step', { attempt: previous.attempt });
      return { finished: false, ended: false, key: run.key, handle: previous.handle, deadline: previous.deadline };
    }
    const args = [
      ...runArguments(run, settings.moleculesFiles[lane] ?? `molecules-${lane}.json`),
      ...settings.extraArgs,
    ];
    const startedAt = new Date(now());
    const deadline = new Date(startedAt.getTime() + batch.runTimeoutSeconds * 1000).toISOString();
    const attempt = (previous?.attempt ?? 0) + 1;
    // Each launch writes below a prefix of its own, so CheckRun counts what this launch delivered.
    const { delivery } = settings;
    const records: RunRecords = {
      mode: delivery.mode,
      bucket: delivery.bucket,
      prefix: runRecordsPrefix(delivery.prefix, run.key, attempt),
      flag: delivery.mode === 'direct' ? delivery.s3Flag : delivery.folderFlag,
    };
    const base = {
      key: run.key,
      lane,
      batchId: batch.batchId,
      attempt,
      args,
      startedAt: startedAt.toISOString(),
      recordsUri: recordsUri(records),
    };
    // Written before the launch, so a run the launch leaves behind is never without a record.
    await store.writeRun({ ...base, status: 'in_progress', deadline });
    try {
      const handle = await launcher.launch({ runKey: run.key, args, lane, records });
      await store.writeRun({ ...base, status: 'in_progress', deadline, handle });
      runLog.info('run launched', { attempt: base.attempt, launcher: launcher.kind, deadline });
      return { finished: false, ended: false, key: run.key, handle, deadline };
    } catch (error) {
      if (!(error instanceof RunLaunchError)) throw error;
      await store.writeRun({
        ...base,
        status: 'failed',
        endedAt: new Date(now()).toISOString(),
        exitCode: null,
        detail: error.message,
      });
      runLog.warn('run could not be launched', { error });
      return { finished: false, ended: true, key: run.key, status: 'failed' };
    }
  };
}
