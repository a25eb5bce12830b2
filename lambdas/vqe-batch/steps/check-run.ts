/**
 * Polls a launched run. When it has ended, its state becomes done (exit code 0) or failed; when
 * it passes its deadline, it is stopped and becomes timed_out. Either way the loop moves on.
 */
import { Logger } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import { CheckRunEvent, type RunState, type RunStatusName } from '../contract';
import type { RunStepDeps } from './start-run';

export type CheckRunResult =
  | { readonly ended: false; readonly key: string }
  | { readonly ended: true; readonly key: string; readonly status: RunStatusName };

export function createCheckRun({
  store,
  launcher,
  now = Date.now,
  log = new Logger('vqe-batch-check-run'),
}: Omit<RunStepDeps, 'settings'>) {
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
    return { ended: true, key: run.key, status: outcome };
  };
}
