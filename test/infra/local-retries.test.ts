/**
 * The pause before a failed Spark job's retry, per profile: SPEC section 4's 20 / 15 minutes on
 * AWS, half a minute on the local profile (a local crash should not cost 20 minutes), and an
 * explicit `jobs` value wins on either.
 */
import { describe, expect, it } from 'vitest';
import { LOCAL_RETRY_INTERVAL_SECONDS, loadConfig } from '../../infra/config';
import { allStates } from '../../localstack/embedded/definition';
import { pipelineAlone } from './pipeline-alone';
import { definitionOf, synth } from './support';

/** The job-failure retrier of each job phase of the synthesized feature pipeline, by state name. */
function jobRetriers(
  context: Record<string, unknown>,
): Record<string, { IntervalSeconds?: number; BackoffRate?: number; MaxAttempts?: number }> {
  const definition = pipelineAlone(context).definition();
  return Object.fromEntries(
    allStates(definition)
      .filter(([name]) => name === 'FeatureJob' || name === 'MlFeatureJob')
      .map(([name, state]) => {
        const retry = (state as { Retry?: Array<{ ErrorEquals: string[] }> }).Retry ?? [];
        return [name, retry.find((r) => r.ErrorEquals.includes('SparkJobFailedError')) ?? {}];
      }),
  );
}

describe('retry intervals of the job phases', () => {
  it('waits 30 s on the local profile, with the same attempts and backoff, while the aws profile keeps SPEC section 4', () => {
    // Act
    const local = jobRetriers({ profile: 'local' });
    const aws = jobRetriers({});

    // Assess
    expect(LOCAL_RETRY_INTERVAL_SECONDS).toBe(30);
    expect(local.FeatureJob).toMatchObject({ IntervalSeconds: 30, BackoffRate: 2, MaxAttempts: 3 });
    expect(local.MlFeatureJob).toMatchObject({ IntervalSeconds: 30, BackoffRate: 2, MaxAttempts: 2 });
    expect(aws.FeatureJob).toMatchObject({ IntervalSeconds: 1200, BackoffRate: 2, MaxAttempts: 3 });
    expect(aws.MlFeatureJob).toMatchObject({ IntervalSeconds: 900, BackoffRate: 2, MaxAttempts: 2 });
    // The whole local stack (what `npm run pipeline:local` executes) takes the same policy.
    const stack = definitionOf(synth({ profile: 'local' })).States;
    expect(stack.FeatureJob.Retry).toEqual([expect.objectContaining({ IntervalSeconds: 30 })]);
    expect(stack.MlFeatureJob.Retry).toEqual([expect.objectContaining({ IntervalSeconds: 30 })]);
  });

  it('lets an explicit interval win on either profile (also as `-c jobs=<JSON>`), keeping the default of the other job', () => {
    const local = jobRetriers({ profile: 'local', jobs: '{"features": {"retryIntervalSeconds": 600}}' });
    const aws = jobRetriers({ jobs: { mlFeatures: { retryIntervalSeconds: 45 } } });

    expect(local.FeatureJob).toMatchObject({ IntervalSeconds: 600 });
    expect(local.MlFeatureJob).toMatchObject({ IntervalSeconds: 30 });
    expect(aws.FeatureJob).toMatchObject({ IntervalSeconds: 1200 });
    expect(aws.MlFeatureJob).toMatchObject({ IntervalSeconds: 45 });
    // A bad value is still named, on the local profile too.
    expect(() => loadConfig({ profile: 'local', jobs: { features: { retryIntervalSeconds: -1 } } })).toThrow(
      /jobs\.features\.retryIntervalSeconds/,
    );
    expect(() => loadConfig({ profile: 'local', jobs: 'not json' })).toThrow(/jobs/);
  });
});
