/**
 * Progress of a batch from its plan and the runs' states: per lane done / failed / timed out /
 * pending / in progress, and an ETA. A state written by an earlier batch counts as pending unless
 * it is done (done runs were left out of this batch's plan anyway).
 */
import {
  type BatchProgress,
  type BatchRef,
  type LaneProgress,
  RUN_STATUSES,
  type RunState,
  type StatusTally,
} from './contract';

const emptyTally = (): Record<keyof StatusTally, number> =>
  Object.fromEntries(RUN_STATUSES.map((status) => [status, 0])) as Record<keyof StatusTally, number>;

export function batchProgress(
  batch: BatchRef,
  plannedKeys: Readonly<Record<string, readonly string[]>>,
  states: ReadonlyMap<string, RunState | undefined>,
  now: number,
): BatchProgress {
  const durations: number[] = [];
  const perLane = Object.entries(plannedKeys).map(([lane, keys]) => {
    const tally = emptyTally();
    const laneDurations: number[] = [];
    let runningFor = 0;
    let records = 0;
    for (const key of keys) {
      const state = states.get(key);
      // What this batch delivered: another batch's records were counted in its own progress.
      if (state?.batchId === batch.batchId) records += state.records ?? 0;
      const status = state && (state.batchId === batch.batchId || state.status === 'done') ? state.status : 'pending';
      tally[status] += 1;
      if (state?.startedAt && state.endedAt && status !== 'pending' && status !== 'in_progress') {
        laneDurations.push((Date.parse(state.endedAt) - Date.parse(state.startedAt)) / 1000);
      }
      if (status === 'in_progress' && state?.startedAt) runningFor += (now - Date.parse(state.startedAt)) / 1000;
    }
    durations.push(...laneDurations);
    return { lane, keys, tally, laneDurations, runningFor, records };
  });
  const overallMean = mean(durations);

  const lanes: LaneProgress[] = perLane.map(({ lane, keys, tally, laneDurations, runningFor, records }) => {
    const meanRunSeconds = mean(laneDurations) ?? overallMean;
    const remaining = tally.pending + tally.in_progress;
    // A run in progress has used part of its expected time (one running past the mean counts as
    // ending now); a lane with runs left is never reported as finished (at least 1 s).
    const etaSeconds =
      remaining === 0
        ? 0
        : meanRunSeconds === null
          ? null
          : Math.max(
              1,
              Math.round(tally.pending * meanRunSeconds + Math.max(0, tally.in_progress * meanRunSeconds - runningFor)),
            );
    return { lane, planned: keys.length, ...tally, records, meanRunSeconds: round(meanRunSeconds), etaSeconds };
  });

  const totals = lanes.reduce(
    (sum, lane) => {
      for (const status of RUN_STATUSES) sum[status] += lane[status];
      sum.planned += lane.planned;
      return sum;
    },
    { ...emptyTally(), planned: 0 },
  );
  const etas = lanes.map((lane) => lane.etaSeconds);
  const etaSeconds = etas.includes(null) ? null : Math.max(0, ...(etas as number[]));
  return {
    batchId: batch.batchId,
    tier: batch.tier,
    startedAt: batch.startedAt,
    lanes,
    totals,
    records: lanes.reduce((sum, lane) => sum + lane.records, 0),
    etaSeconds,
    estimatedEnd: etaSeconds === null ? null : new Date(now + etaSeconds * 1000).toISOString(),
    finished: totals.pending + totals.in_progress === 0,
  };
}

/** One lane's progress: the batch's, for this lane's planned runs only (check-run publishes it as metrics). */
export function laneProgress(
  batch: BatchRef,
  lane: string,
  keys: readonly string[],
  states: ReadonlyMap<string, RunState | undefined>,
  now: number,
): LaneProgress {
  return batchProgress(batch, { [lane]: keys }, states, now).lanes[0];
}

function mean(values: readonly number[]): number | null {
  return values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length;
}

function round(value: number | null): number | null {
  return value === null ? null : Math.round(value * 10) / 10;
}

/** Progress as the CLI and logs print it, one line per lane. */
export function describeProgress(progress: BatchProgress): string[] {
  const eta = (seconds: number | null) =>
    seconds === null ? 'ETA unknown' : seconds === 0 ? 'finished' : `ETA ${duration(seconds)}`;
  const line = (name: string, t: StatusTally & { planned: number }, seconds: number | null) =>
    `${name.padEnd(6)} ${String(t.done).padStart(5)} done ${String(t.failed).padStart(5)} failed ${String(t.timed_out).padStart(4)} timed out ` +
    `${String(t.in_progress).padStart(3)} in progress ${String(t.pending).padStart(5)} pending  of ${t.planned}  ${eta(seconds)}`;
  return [
    `batch ${progress.batchId} (tier ${progress.tier}, started ${progress.startedAt})`,
    ...progress.lanes.map((lane) => line(lane.lane, lane, lane.etaSeconds)),
    line('total', progress.totals, progress.etaSeconds) +
      (progress.estimatedEnd && !progress.finished ? ` (about ${progress.estimatedEnd})` : ''),
  ];
}

function duration(seconds: number): string {
  const h = Math.floor(seconds / 3600);
  const m = Math.floor((seconds % 3600) / 60);
  return h > 0 ? `${h} h ${m} min` : m > 0 ? `${m} min ${Math.round(seconds % 60)} s` : `${Math.round(seconds)} s`;
}
