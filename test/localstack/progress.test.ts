import { describe, expect, it } from 'vitest';
import type { ExecutionEvents } from '../../localstack/embedded/local-host';
import { followProgress, nextAttempt } from '../../localstack/embedded/progress';

type Raw = Record<string, unknown>;
const state = (name: string, type: string, output?: unknown) => ({ name, type, input: {}, output });

async function* replay(events: Raw[]): AsyncGenerator<Raw> {
  for (const event of events) yield event;
}

function poll(t: number, jobState: string): Raw[] {
  return [
    { type: 'StateEntered', timestamp: t, state: state('WaitForFeatureJob', 'Wait') },
    { type: 'StateExited', timestamp: t, state: state('WaitForFeatureJob', 'Wait') },
    { type: 'StateEntered', timestamp: t, state: state('GetFeatureJobStatus', 'Task') },
    {
      type: 'StateExited',
      timestamp: t + 100,
      state: state('GetFeatureJobStatus', 'Task', { status: { state: jobState } }),
    },
    { type: 'StateEntered', timestamp: t + 100, state: state('IsFeatureJobDone', 'Choice') },
    {
      type: 'StateExited',
      timestamp: t + 100,
      state: state('IsFeatureJobDone', 'Choice', { status: { state: jobState } }),
    },
  ];
}

describe('followProgress', () => {
  it('prints work states, the job id, job state changes only, retries and the outcome', async () => {
    const events: Raw[] = [
      { type: 'ExecutionStarted', timestamp: 0, input: {} },
      { type: 'StateEntered', timestamp: 0, state: state('StartRun', 'Pass') },
      { type: 'StateEntered', timestamp: 0, state: state('SubmitFeatureJob', 'Task') },
      { type: 'StateExited', timestamp: 300, state: state('SubmitFeatureJob', 'Task', { job: { jobId: 'driver-7' } }) },
      ...poll(2000, 'RUNNING'),
      ...poll(4000, 'RUNNING'),
      ...poll(6000, 'SUCCEEDED'),
      {
        type: 'StateRetried',
        timestamp: 7000,
        state: state('FeatureJob', 'Parallel'),
        retry: { retrier: {}, attempt: 1 },
      },
      {
        type: 'StateFailed',
        timestamp: 8000,
        state: state('FeatureJob', 'Parallel'),
        Error: 'SparkJobFailedError',
        Cause: 'Traceback',
      },
      { type: 'ExecutionFailed', timestamp: 8000, Error: 'SparkJobFailedError', Cause: 'Traceback' },
    ];
    const lines: string[] = [];

    const record = await followProgress(replay(events) as unknown as ExecutionEvents, (l) => lines.push(l.trim()));

    expect(lines).toEqual([
      '0.0s  execution started',
      '0.0s  ▶ SubmitFeatureJob',
      '0.3s  ✓ SubmitFeatureJob (0.3s) job driver-7',
      '2.0s  ▶ GetFeatureJobStatus',
      '2.1s    GetFeatureJobStatus: job RUNNING',
      '6.1s    GetFeatureJobStatus: job SUCCEEDED',
      '7.0s  ↻ FeatureJob: retry 1',
      '8.0s  ✗ FeatureJob: SparkJobFailedError: Traceback',
      '8.0s  execution failed: SparkJobFailedError: Traceback',
    ]);
    expect(record.retries).toEqual([{ state: 'FeatureJob', attempt: 1 }]);
    expect(record.timings.filter((t) => t.name === 'GetFeatureJobStatus')).toHaveLength(3);
  });
});

describe('followProgress: a failure a Retry answers', () => {
  const t0 = Date.UTC(2026, 11, 2, 10, 0, 0);
  const min = 60_000;
  const cause = 'driver driver-20261202100000-0001 FAILED (SIGKILL): its log stops\n--- driver stderr ---\nINFO ...';
  const jobFailed = (t: number): Raw[] => [
    { type: 'StateEntered', timestamp: t, state: state('FeatureJobFailed', 'Fail') },
    {
      type: 'StateFailed',
      timestamp: t,
      state: state('FeatureJobFailed', 'Fail'),
      Error: 'SparkJobFailedError',
      Cause: cause,
    },
    {
      type: 'StateFailed',
      timestamp: t,
      state: state('FeatureJob', 'Parallel'),
      Error: 'SparkJobFailedError',
      Cause: cause,
    },
  ];
  const plans = {
    FeatureJob: {
      retriers: [
        {
          ErrorEquals: ['SparkJobFailedError'],
          IntervalSeconds: 1200,
          MaxAttempts: 2,
          BackoffRate: 2,
          MaxDelaySeconds: 3600,
        },
      ],
    },
    SubmitFeatureJob: {
      retriers: [
        { ErrorEquals: ['SparkBackendUnavailableError'], IntervalSeconds: 10, MaxAttempts: 3, BackoffRate: 2 },
      ],
      overrideMs: 0,
    },
  };

  it('says which attempt follows, at what time and in how long, when the failure happens', async () => {
    // Prepare: job 1 fails twice (SIGKILL), retried after 20 and 40 minutes, and a third time for good;
    // its submit once meets an unreachable master, retried at once (a local override).
    const events: Raw[] = [
      { type: 'ExecutionStarted', timestamp: t0, input: {} },
      {
        type: 'StateFailed',
        timestamp: t0 + 1000,
        state: state('SubmitFeatureJob', 'Task'),
        Error: 'SparkBackendUnavailableError',
        Cause: 'POST /v1/submissions/create: the Spark master at http://127.0.0.1:6066 is unreachable',
      },
      {
        type: 'StateRetried',
        timestamp: t0 + 1000,
        state: state('SubmitFeatureJob', 'Task'),
        retry: { retrier: plans.SubmitFeatureJob.retriers[0], attempt: 1 },
      },
      ...jobFailed(t0 + 2 * min + 5000),
      {
        type: 'StateRetried',
        timestamp: t0 + 22 * min + 5000,
        state: state('FeatureJob', 'Parallel'),
        retry: { retrier: plans.FeatureJob.retriers[0], attempt: 1 },
      },
      ...jobFailed(t0 + 25 * min),
      {
        type: 'StateRetried',
        timestamp: t0 + 65 * min,
        state: state('FeatureJob', 'Parallel'),
        retry: { retrier: plans.FeatureJob.retriers[0], attempt: 2 },
      },
      ...jobFailed(t0 + 70 * min),
    ];
    const lines: string[] = [];

    // Act
    await followProgress(replay(events) as unknown as ExecutionEvents, (l) => lines.push(l.trim()), '', plans);

    // Assess
    const retryLines = lines.filter((l) => l.includes('↻'));
    expect(retryLines).toEqual([
      '1.0s  ↻ SubmitFeatureJob failed (SparkBackendUnavailableError: POST /v1/submissions/create: the Spark master at http://127.0.0.1:6066 is unreachable); attempt 2 of 4 starts at 10:00:01 UTC (in 0 s)',
      '1.0s  ↻ SubmitFeatureJob: attempt 2 of 4 starts',
      '125s  ↻ FeatureJob failed (SparkJobFailedError: driver driver-20261202100000-0001 FAILED (SIGKILL): its log stops); attempt 2 of 3 starts at 10:22:05 UTC (in 20 min)',
      '1325s  ↻ FeatureJob: attempt 2 of 3 starts',
      '1500s  ↻ FeatureJob failed (SparkJobFailedError: driver driver-20261202100000-0001 FAILED (SIGKILL): its log stops); attempt 3 of 3 starts at 11:05:00 UTC (in 40 min)',
      '3900s  ↻ FeatureJob: attempt 3 of 3 starts',
    ]);
    // The last failure has no attempt left: it is reported as a failure, cause and all.
    expect(lines.at(-1)).toMatch(
      /^4200s {2}✗ FeatureJob: SparkJobFailedError: driver driver-20261202100000-0001 FAILED/,
    );
  });

  it('decides the next attempt as Step Functions does', () => {
    const retriers = [
      { ErrorEquals: ['SparkBackendUnavailableError'], IntervalSeconds: 10, MaxAttempts: 2, BackoffRate: 3 },
      { ErrorEquals: ['States.TaskFailed'], IntervalSeconds: 1000, MaxAttempts: 1, MaxDelaySeconds: 60 },
      { ErrorEquals: ['States.ALL'], MaxAttempts: 1 },
    ];

    // The first retrier naming the error, its backoff by the retries it has made.
    expect(nextAttempt({ retriers }, 'Task', 'SparkBackendUnavailableError', [1])).toEqual({
      retrierIndex: 0,
      attempt: 3,
      of: 3,
      waitMs: 30_000,
    });
    // A spent retrier ends the retries, even when a later one would match.
    expect(nextAttempt({ retriers }, 'Task', 'SparkBackendUnavailableError', [2])).toBeUndefined();
    // States.TaskFailed matches Task states only; MaxDelaySeconds caps the pause; defaults fill the rest.
    expect(nextAttempt({ retriers }, 'Task', 'Boom', [])).toMatchObject({ retrierIndex: 1, waitMs: 60_000 });
    expect(nextAttempt({ retriers }, 'Parallel', 'Boom', [])).toMatchObject({ retrierIndex: 2, of: 2, waitMs: 1000 });
    // The host's override replaces the pause, for all retriers or one each.
    expect(nextAttempt({ retriers, overrideMs: [5, 0] }, 'Task', 'Boom', [])).toMatchObject({ waitMs: 0 });
    // No retrier names it: no attempt follows.
    expect(nextAttempt({ retriers: retriers.slice(0, 1) }, 'Parallel', 'SparkJobTimeoutError', [])).toBeUndefined();
  });
});
