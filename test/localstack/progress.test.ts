import { describe, expect, it } from 'vitest';
import type { ExecutionEvents } from '../../localstack/embedded/local-host';
import { followProgress } from '../../localstack/embedded/progress';

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
