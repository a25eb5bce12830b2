/** A batch's progress from its plan and the run states: tallies per lane, the ETA and how it is printed. */
import { describe, expect, it } from 'vitest';
import type { BatchRef, RunState, RunStatusName } from '../../lambdas/vqe-batch/contract';
import { batchProgress, describeProgress, laneProgress } from '../../lambdas/vqe-batch/progress';

const T0 = Date.parse('2026-03-01T10:00:00.000Z');
const at = (seconds: number) => new Date(T0 + seconds * 1000).toISOString();
const BATCH: BatchRef = { batchId: '20260301T100000Z-b2', tier: 1, runTimeoutSeconds: 7200, startedAt: at(0) };
const OLDER = '20260228T100000Z-b1';

/** A run state; `span` is [start, end] in seconds after T0 (end left out while the run goes on). */
function state(
  key: string,
  status: RunStatusName,
  span: [number, number?] = [0, 60],
  batchId = BATCH.batchId,
): RunState {
  const [start, end] = span;
  return {
    key,
    lane: key.split('/')[0] as RunState['lane'],
    batchId,
    status,
    attempt: 1,
    args: [],
    startedAt: at(start),
    ...(end === undefined ? {} : { endedAt: at(end) }),
  };
}

const statesOf = (...states: RunState[]) => new Map<string, RunState | undefined>(states.map((s) => [s.key, s]));

describe('batchProgress', () => {
  it('counts each status per lane, a key without a state as pending, and sums the lanes', () => {
    // Prepare
    const planned = { cpu: ['cpu/1', 'cpu/2', 'cpu/3', 'cpu/4', 'cpu/5'], gpu1: ['gpu1/1'] };
    const states = statesOf(
      state('cpu/1', 'done'),
      state('cpu/2', 'failed'),
      state('cpu/3', 'timed_out'),
      state('cpu/4', 'in_progress', [100]),
      state('gpu1/1', 'done'),
    );

    // Act
    const progress = batchProgress(BATCH, planned, states, T0 + 120_000);

    // Assess
    expect(
      progress.lanes.map((l) => [l.lane, l.planned, l.done, l.failed, l.timed_out, l.in_progress, l.pending]),
    ).toEqual([
      ['cpu', 5, 1, 1, 1, 1, 1],
      ['gpu1', 1, 1, 0, 0, 0, 0],
    ]);
    expect(progress.totals).toEqual({ planned: 6, done: 2, failed: 1, timed_out: 1, in_progress: 1, pending: 1 });
    expect(progress).toMatchObject({ batchId: BATCH.batchId, tier: 1, startedAt: BATCH.startedAt, finished: false });
  });

  it("counts an older batch's failed or stale in-progress run as pending, but its done run as done", () => {
    // Prepare: the older batch's states are what this batch is about to redo (or found done meanwhile)
    const planned = { cpu: ['cpu/1', 'cpu/2', 'cpu/3'] };
    const states = statesOf(
      state('cpu/1', 'failed', [0, 30], OLDER),
      state('cpu/2', 'in_progress', [0], OLDER),
      state('cpu/3', 'done', [0, 40], OLDER),
    );

    // Act
    const [lane] = batchProgress(BATCH, planned, states, T0 + 60_000).lanes;

    // Assess: only the done run's duration is a sample of this lane
    expect(lane).toMatchObject({ pending: 2, failed: 0, in_progress: 0, done: 1, meanRunSeconds: 40 });
  });

  it('estimates a lane as remaining runs times its mean, less what the running run has used', () => {
    // Prepare: ended runs of 100 s and 300 s; one run started 50 s ago; two more to go
    const now = 1000;
    const planned = { cpu: ['cpu/1', 'cpu/2', 'cpu/3', 'cpu/4', 'cpu/5'] };
    const states = statesOf(
      state('cpu/1', 'done', [0, 100]),
      state('cpu/2', 'failed', [100, 400]),
      state('cpu/3', 'in_progress', [now - 50]),
    );

    // Act
    const progress = batchProgress(BATCH, planned, states, T0 + now * 1000);

    // Assess: 3 x 200 - 50
    expect(progress.lanes[0]).toMatchObject({ meanRunSeconds: 200, etaSeconds: 550 });
    expect(progress.etaSeconds).toBe(550);
    expect(progress.estimatedEnd).toBe(at(now + 550));
  });

  it('never reports a lane with runs left as finished, even when its running run is past the mean', () => {
    // Prepare: one ended run of 100 s; the last run started 400 s ago
    const now = 1000;
    const states = statesOf(state('cpu/1', 'done', [0, 100]), state('cpu/2', 'in_progress', [now - 400]));

    // Act
    const progress = batchProgress(BATCH, { cpu: ['cpu/1', 'cpu/2'] }, states, T0 + now * 1000);

    // Assess
    expect(progress.lanes[0].etaSeconds).toBe(1);
    expect(progress.finished).toBe(false);
    expect(describeProgress(progress).at(-1)).toMatch(/ETA 1 s/);
  });

  it('falls back to the mean of all lanes for a lane with no ended run, and ends with the slowest lane', () => {
    // Prepare: cpu runs took 100 s and 300 s, gpu2's 600 s; gpu1 has not finished a run yet
    const planned = { cpu: ['cpu/1', 'cpu/2'], gpu2: ['gpu2/1', 'gpu2/2'], gpu1: ['gpu1/1', 'gpu1/2'] };
    const states = statesOf(
      state('cpu/1', 'done', [0, 100]),
      state('cpu/2', 'done', [100, 400]),
      state('gpu2/1', 'timed_out', [0, 600]),
    );

    // Act
    const progress = batchProgress(BATCH, planned, states, T0 + 600_000);

    // Assess: gpu1 = 2 x 1000/3
    const gpu1 = progress.lanes.find((lane) => lane.lane === 'gpu1')!;
    expect(gpu1).toMatchObject({ meanRunSeconds: 333.3, etaSeconds: 667 });
    expect(progress.lanes.find((lane) => lane.lane === 'gpu2')).toMatchObject({ meanRunSeconds: 600, etaSeconds: 600 });
    expect(progress.lanes.find((lane) => lane.lane === 'cpu')).toMatchObject({ etaSeconds: 0 });
    expect(progress.etaSeconds).toBe(667);
    expect(progress.estimatedEnd).toBe(at(600 + 667));
  });

  it('has no ETA while no run of any lane has ended', () => {
    // Prepare
    const planned = { cpu: ['cpu/1', 'cpu/2'], gpu1: ['gpu1/1'] };
    const states = statesOf(state('cpu/1', 'in_progress', [0]));

    // Act
    const progress = batchProgress(BATCH, planned, states, T0 + 30_000);

    // Assess
    expect(progress.lanes.map((lane) => [lane.meanRunSeconds, lane.etaSeconds])).toEqual([
      [null, null],
      [null, null],
    ]);
    expect(progress).toMatchObject({ etaSeconds: null, estimatedEnd: null, finished: false });
  });

  it('reports 0 s and the current time once every run has ended', () => {
    // Prepare
    const now = T0 + 500_000;
    const states = statesOf(state('cpu/1', 'done', [0, 50]), state('cpu/2', 'failed', [50, 80]));

    // Act
    const progress = batchProgress(BATCH, { cpu: ['cpu/1', 'cpu/2'] }, states, now);

    // Assess
    expect(progress).toMatchObject({ etaSeconds: 0, finished: true, estimatedEnd: new Date(now).toISOString() });
    expect(progress.lanes[0].etaSeconds).toBe(0);
  });
});

describe('describeProgress', () => {
  it('prints a header, one line per lane and a total with the estimated end', () => {
    // Prepare: cpu 550 s to go, gpu1 2 x 1 h 1 min 40 s
    const now = T0 + 1_000_000;
    const planned = { cpu: ['cpu/1', 'cpu/2', 'cpu/3', 'cpu/4', 'cpu/5'], gpu1: ['gpu1/1', 'gpu1/2', 'gpu1/3'] };
    const states = statesOf(
      state('cpu/1', 'done', [0, 100]),
      state('cpu/2', 'failed', [100, 400]),
      state('cpu/3', 'in_progress', [950]),
      state('gpu1/1', 'done', [0, 3700]),
    );
    const progress = batchProgress(BATCH, planned, states, now);

    // Act
    const lines = describeProgress(progress);

    // Assess
    expect(lines).toHaveLength(1 + 2 + 1);
    expect(lines[0]).toBe(`batch ${BATCH.batchId} (tier 1, started ${BATCH.startedAt})`);
    expect(lines[1]).toMatch(
      /^cpu +1 done +1 failed +0 timed out +1 in progress +2 pending {2}of 5 {2}ETA 9 min 10 s$/,
    );
    expect(lines[2]).toMatch(/^gpu1 +1 done .* 2 pending {2}of 3 {2}ETA 2 h 3 min$/);
    expect(lines[3]).toMatch(
      /^total +2 done +1 failed +0 timed out +1 in progress +4 pending {2}of 8 {2}ETA 2 h 3 min /,
    );
    expect(lines[3].endsWith(`(about ${progress.estimatedEnd})`)).toBe(true);
  });

  it('prints "ETA unknown" without an estimate and "finished" with no estimated end once done', () => {
    // Prepare
    const unknown = batchProgress(BATCH, { cpu: ['cpu/1'] }, statesOf(), T0);
    const finished = batchProgress(BATCH, { cpu: ['cpu/1'] }, statesOf(state('cpu/1', 'done', [0, 45])), T0 + 60_000);

    // Act
    const [unknownLines, finishedLines] = [describeProgress(unknown), describeProgress(finished)];

    // Assess
    expect(unknownLines.slice(1).every((line) => line.endsWith('ETA unknown'))).toBe(true);
    expect(finishedLines.slice(1).every((line) => line.endsWith('finished'))).toBe(true);
  });
});

describe('laneProgress', () => {
  it("is the batch's progress for one lane, its mean and ETA from that lane's runs alone", () => {
    // Prepare: the gpu1 run took 1,000 s; the cpu lane's own runs 60 s.
    const states = statesOf(state('cpu/1', 'done'), state('cpu/2', 'failed'), state('gpu1/1', 'done', [0, 1000]));

    // Act
    const lane = laneProgress(BATCH, 'cpu', ['cpu/1', 'cpu/2', 'cpu/3'], states, T0 + 120_000);

    // Assess
    expect(lane).toEqual({
      lane: 'cpu',
      planned: 3,
      pending: 1,
      in_progress: 0,
      done: 1,
      failed: 1,
      timed_out: 0,
      records: 0,
      meanRunSeconds: 60,
      etaSeconds: 60,
    });
  });
});

describe('records in the progress', () => {
  it("sums the records this batch's runs delivered, per lane and in all, leaving out another batch's", () => {
    // Prepare: a failed direct-mode run may have delivered some before it failed; cpu/3 is an older batch's
    const states = statesOf(
      { ...state('cpu/1', 'done'), records: 1 },
      { ...state('cpu/2', 'failed'), records: 2 },
      { ...state('cpu/3', 'failed', [0, 60], OLDER), records: 5 },
      { ...state('gpu1/1', 'done'), records: 3 },
      state('gpu1/2', 'done'), // launched before delivery existed: nothing counted
    );

    // Act
    const progress = batchProgress(BATCH, { cpu: ['cpu/1', 'cpu/2', 'cpu/3'], gpu1: ['gpu1/1', 'gpu1/2'] }, states, T0);

    // Assess
    expect(progress.lanes.map((lane) => [lane.lane, lane.records])).toEqual([
      ['cpu', 3],
      ['gpu1', 3],
    ]);
    expect(progress.records).toBe(6);
  });
});
