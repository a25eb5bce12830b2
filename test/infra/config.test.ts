import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../infra/config';

describe('loadConfig', () => {
  it('applies the SPEC section 4 defaults', () => {
    const config = loadConfig({});

    expect(config.profile).toBe('aws');
    expect(config.jobs.features).toEqual({
      retries: 3,
      retryIntervalSeconds: 1200,
      backoffRate: 2,
      maxRetryDelaySeconds: 3600,
      timeoutSeconds: 7200,
      slaSeconds: 5400,
    });
    expect(config.jobs.mlFeatures).toEqual({
      retries: 2,
      retryIntervalSeconds: 900,
      backoffRate: 2,
      maxRetryDelaySeconds: 3600,
      timeoutSeconds: 3600,
      slaSeconds: 2700,
    });
    expect(config.spark).toMatchObject({ driverMemory: '1g', executorMemory: '1536m', shufflePartitions: 8 });
    expect(config.emr.releaseLabel).toBe('emr-spark-8.0.0');
    expect(config.schedule).toEqual({ enabled: true, expression: 'cron(0 2 * * ? *)', timezone: 'UTC' });
    expect(config.logLevel).toBe('INFO');
  });

  it('reads `-c key=value` strings: words, numbers and JSON objects', () => {
    const config = loadConfig({
      profile: 'local',
      pollIntervalSeconds: '30',
      schedule: '{"enabled": false}',
      alertEmail: 'team@example.org',
    });

    expect(config.profile).toBe('local');
    expect(config.pollIntervalSeconds).toBe(30);
    expect(config.schedule.enabled).toBe(false);
    expect(config.schedule.expression).toBe('cron(0 2 * * ? *)');
    expect(config.alertEmail).toBe('team@example.org');
  });

  it('keeps the defaults of the job policy fields an override leaves out', () => {
    const config = loadConfig({ jobs: '{"features": {"retries": 5}}' });

    expect(config.jobs.features).toEqual({
      retries: 5,
      retryIntervalSeconds: 1200,
      backoffRate: 2,
      maxRetryDelaySeconds: 3600,
      timeoutSeconds: 7200,
      slaSeconds: 5400,
    });
    expect(config.jobs.mlFeatures.retries).toBe(2);
  });

  it('ignores context keys that belong to the CDK itself', () => {
    expect(() =>
      loadConfig({ 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:newStyleStackSynthesis': true }),
    ).not.toThrow();
  });

  it('returns a frozen object', () => {
    const config = loadConfig({});

    expect(Object.isFrozen(config) && Object.isFrozen(config.jobs.features)).toBe(true);
  });

  it.each([
    [{ profile: 'gcp' }, /profile: .*got "gcp"/],
    [{ alertEmail: 'not-an-email' }, /alertEmail: .*got "not-an-email"/],
    [{ sheduel: {} }, /unknown field "sheduel" \(did you mean "schedule"\?\)/],
    [{ jobs: { features: { retries: 11 } } }, /^invalid configuration: jobs\.features\.retries: [^;]*got 11$/],
    [
      { schedule: { expression: 'daily' } },
      /schedule\.expression: expected cron\(\.\.\.\), rate\(\.\.\.\) or at\(\.\.\.\), got "daily"/,
    ],
    [{ spark: { executorMemory: '2GB' } }, /spark\.executorMemory: .*got "2GB"/],
    [{ pollIntervalSeconds: '2' }, /pollIntervalSeconds: .*got 2$/],
    [{ batch: '{"runTimeoutMinutes": 0}' }, /batch.runTimeoutMinutes: .*got 0$/],
    [
      { buckets: { features: 'Features_Bucket' } },
      /buckets\.features: expected an S3 bucket name, got "Features_Bucket"/,
    ],
    [{ local: { sparkMasterUrl: 'http://x:7077' } }, /local\.sparkMasterUrl: expected spark:\/\/host:port/],
    [{ logLevel: 'LOUD' }, /^invalid configuration: logLevel: .*"DEBUG".*"ERROR".*got "LOUD"$/],
    [{ logLevel: 'debug' }, /logLevel: .*got "debug"$/],
  ])('refuses %j, naming the field and the value', (context, message) => {
    expect(() => loadConfig(context)).toThrow(ConfigError);
    expect(() => loadConfig(context)).toThrow(message);
  });
});
