import { describe, expect, it } from 'vitest';
import type { PipelineSettings } from '../../lambdas/shared/contracts';
import { backendFromEnv, readSettings } from '../../lambdas/shared/env';
import { buildJobSpec } from '../../lambdas/shared/job-spec';
import { validateInput } from '../../lambdas/steps/validate-input';

const settings: PipelineSettings = {
  catalog: 'quantum_catalog', namespace: 'quantum_features', rawUri: 's3a://raw-results/experiments',
  summaryUri: 's3a://features/pipeline-runs', sparkConf: { 'spark.x': '1' }, extraSubmitArgs: ['--verbose'],
  resources: { driverCores: 1, driverMemory: '1g', executorCores: 1, executorMemory: '1536m' },
  jobTimeoutSeconds: { features: 7200, 'ml-features': 3600 }, mlDefaults: { rollingWindow: 5, trajectoryHead: 10, trajectoryTail: 10 },
};

describe('validate-input', () => {
  it.each([
    [{}, {}], [null, {}], [undefined, {}],
    [{ maxFiles: 100 }, { maxFiles: 100 }],
    [{ fullRefresh: true, mlParams: { rollingWindow: 7 } }, { fullRefresh: true, mlParams: { rollingWindow: 7 } }],
    [{ skipMlFeatures: true, trigger: 'schedule' }, { skipMlFeatures: true, trigger: 'schedule' }],
  ])('accepts %j', (input, options) => {
    const run = validateInput({ input, executionName: 'exec-1' });

    expect(run).toEqual({ runId: 'exec-1', options, skipMlFeatures: (options as { skipMlFeatures?: boolean }).skipMlFeatures ?? false });
  });

  it.each([
    [{ maxFiles: 0 }, /maxFiles: .*got 0/],
    [{ maxFiles: 'all' }, /maxFiles: .*got "all"/],
    [{ fullRefresh: 'yes' }, /fullRefresh: .*got "yes"/],
    [{ mlParams: { rollingWindow: 0 } }, /mlParams\.rollingWindow: .*got 0/],
    [{ mlParams: { window: 3 } }, /mlParams: unknown field "window"/],
    [{ fullRefesh: true }, /unknown field "fullRefesh" \(did you mean "fullRefresh"\?\)/],
    [{ fullRefresh: true, skipMlFeatures: true }, /fullRefresh: true rebuilds the ML tables, skipMlFeatures: true skips them/],
    [[1, 2], /\(input\): .*got \[1,2\]/],
  ])('refuses %j, naming the field and the value', (input, message) => {
    expect(() => validateInput({ input, executionName: 'exec-1' })).toThrow(expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(message) }));
  });

  it('refuses an execution name that cannot be a Spark run id', () => {
    expect(() => validateInput({ input: {}, executionName: '-starts-with-dash' })).toThrow(/cannot be a Spark run id/);
  });
});

describe('buildJobSpec', () => {
  const run = { runId: 'exec-1', options: {}, skipMlFeatures: false };

  it('gives job 1 its catalog, namespace, summary and raw locations', () => {
    const spec = buildJobSpec('features', { ...run, options: { maxFiles: 50 } }, settings, 'tok');

    expect(spec).toEqual({
      name: 'quantum-features-exec-1', entryPoint: 'feature_processing.py', pyFiles: ['quantum_pipeline.zip'],
      entryPointArguments: ['--run-id', 'exec-1', '--catalog', 'quantum_catalog', '--namespace', 'quantum_features',
        '--summary-uri', 's3a://features/pipeline-runs', '--raw-uri', 's3a://raw-results/experiments', '--max-files', '50'],
      sparkConf: { 'spark.x': '1' }, resources: settings.resources, extraSubmitArgs: ['--verbose'], clientToken: 'tok',
    });
  });

  it('gives job 2 the deployed W/H/T unless the input overrides them, and --full-refresh when asked', () => {
    const plain = buildJobSpec('ml-features', run, settings, 'tok').entryPointArguments;
    const custom = buildJobSpec('ml-features', { ...run, options: { fullRefresh: true, mlParams: { trajectoryHead: 3 } } }, settings, 'tok').entryPointArguments;

    expect(plain.slice(-6)).toEqual(['--rolling-window', '5', '--trajectory-head', '10', '--trajectory-tail', '10']);
    expect(custom.slice(-7)).toEqual(['--rolling-window', '5', '--trajectory-head', '3', '--trajectory-tail', '10', '--full-refresh']);
  });
});

describe('environment', () => {
  it('names a missing or malformed variable', () => {
    expect(() => readSettings({})).toThrow(expect.objectContaining({ name: 'ConfigurationError', message: 'environment variable PIPELINE_SETTINGS is not set' }));
    expect(() => readSettings({ PIPELINE_SETTINGS: '{' })).toThrow(/PIPELINE_SETTINGS is not JSON/);
    expect(() => readSettings({ PIPELINE_SETTINGS: JSON.stringify({ ...settings, catalog: 'bad-name' }) })).toThrow(/PIPELINE_SETTINGS: catalog: .*got "bad-name"/);
    expect(() => backendFromEnv({ SPARK_BACKEND: 'yarn' })).toThrow(/SPARK_BACKEND="yarn": expected emr-serverless or standalone/);
    expect(() => backendFromEnv({ SPARK_BACKEND: 'standalone', SPARK_ARTIFACTS_URI: '/a' })).toThrow(/SPARK_REST_URL is not set/);
    expect(() => backendFromEnv({ SPARK_BACKEND: 'emr-serverless', SPARK_ARTIFACTS_URI: 's3://a/' })).toThrow(/EMR_APPLICATION_ID is not set/);
  });

  it('builds the backend the variables describe', () => {
    expect(backendFromEnv({ SPARK_BACKEND: 'standalone', SPARK_ARTIFACTS_URI: '/a', SPARK_REST_URL: 'http://x:6066', SPARK_MASTER_URL: 'spark://x:7077', SPARK_PYTHON: 'python3' }).kind).toBe('standalone');
    expect(backendFromEnv({ SPARK_BACKEND: 'emr-serverless', SPARK_ARTIFACTS_URI: 's3://a/', EMR_APPLICATION_ID: 'app', EMR_EXECUTION_ROLE_ARN: 'arn:role', AWS_REGION: 'eu-west-1' }).kind).toBe('emr-serverless');
  });
});
