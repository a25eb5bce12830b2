import { describe, expect, it } from 'vitest';
import { createBackend } from '../../lambdas/feature-pipeline/backends';
import type { PipelineSettings } from '../../lambdas/feature-pipeline/contract';
import { buildJobSpec } from '../../lambdas/feature-pipeline/job-spec';
import { backendFromEnv, readSettings, s3ClientFromEnv } from '../../lambdas/feature-pipeline/settings';
import { validateInput } from '../../lambdas/feature-pipeline/steps/validate-input';
import { pipelineSettings } from './fixtures';

/** The deployed settings, with conf and submit arguments that the job spec must carry through. */
const settings: PipelineSettings = {
  ...pipelineSettings,
  sparkConf: { 'spark.x': '1' },
  extraSubmitArgs: ['--verbose'],
};

describe('validate-input', () => {
  it.each([
    [{}, {}],
    [null, {}],
    [undefined, {}],
    [{ maxFiles: 100 }, { maxFiles: 100 }],
    [
      { fullRefresh: true, mlParams: { rollingWindow: 7 } },
      { fullRefresh: true, mlParams: { rollingWindow: 7 } },
    ],
    [
      { skipMlFeatures: true, trigger: 'schedule' },
      { skipMlFeatures: true, trigger: 'schedule' },
    ],
    [
      { mlOnly: true, fullRefresh: true, mlParams: { rollingWindow: 9 } },
      { mlOnly: true, fullRefresh: true, mlParams: { rollingWindow: 9 } },
    ],
  ])('accepts %j', (input, options) => {
    const run = validateInput({ input, executionName: 'exec-1' });

    expect(run).toEqual({
      runId: 'exec-1',
      options,
      skipMlFeatures: (options as { skipMlFeatures?: boolean }).skipMlFeatures ?? false,
      mlOnly: (options as { mlOnly?: boolean }).mlOnly ?? false,
    });
  });

  it.each([
    [{ maxFiles: 0 }, 'maxFiles: expected a positive whole number, got 0'],
    [{ maxFiles: 2.5 }, 'maxFiles: expected a positive whole number, got 2.5'],
    [{ maxFiles: 'all' }, 'maxFiles: expected a positive whole number, got "all"'],
    [{ fullRefresh: 'yes' }, 'fullRefresh: expected true or false, got "yes"'],
    [{ skipMlFeatures: 1 }, 'skipMlFeatures: expected true or false, got 1'],
    [{ mlOnly: 'true' }, 'mlOnly: expected true or false, got "true"'],
    [{ trigger: '' }, 'trigger: expected a text of 1 to 64 characters, got ""'],
    [{ trigger: 'x'.repeat(65) }, 'trigger: expected a text of 1 to 64 characters, got "xxxxx'],
    [{ mlParams: 5 }, 'mlParams: expected an object with rollingWindow, trajectoryHead and/or trajectoryTail, got 5'],
    [{ mlParams: { rollingWindow: 0 } }, 'mlParams.rollingWindow: expected a whole number from 1 to 1000, got 0'],
    [
      { mlParams: { trajectoryHead: 1001 } },
      'mlParams.trajectoryHead: expected a whole number from 1 to 1000, got 1001',
    ],
    [
      { mlParams: { trajectoryTail: 'ten' } },
      'mlParams.trajectoryTail: expected a whole number from 1 to 1000, got "ten"',
    ],
    [{ mlParams: { window: 3 } }, 'mlParams: unknown field "window"'],
    [{ mlParams: { rollingWindw: 3 } }, 'mlParams: unknown field "rollingWindw" (did you mean "rollingWindow"?)'],
    [{ fullRefesh: true }, 'unknown field "fullRefesh" (did you mean "fullRefresh"?)'],
    [{ colour: 'red' }, 'unknown field "colour"'],
    [[1, 2], '(input): expected an object such as {"maxFiles": 100} (or nothing), got [1,2]'],
    ['run please', '(input): expected an object such as {"maxFiles": 100} (or nothing), got "run please"'],
  ])('refuses %j, naming the field and the value', (input, message) => {
    expect(() => validateInput({ input, executionName: 'exec-1' })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringContaining(message) }),
    );
  });

  it('names every bad field in one message', () => {
    expect(() =>
      validateInput({
        input: { maxFiles: -1, mlParams: { rollingWindow: 0, trajectoryTail: 2000 }, fullRefesh: true },
        executionName: 'exec-1',
      }),
    ).toThrow(
      expect.objectContaining({
        message: expect.stringMatching(
          /maxFiles: .*got -1; .*mlParams\.rollingWindow: .*got 0; .*mlParams\.trajectoryTail: .*got 2000/,
        ),
      }),
    );
    expect(() => validateInput({ input: { maxFiles: -1, fullRefesh: true }, executionName: 'exec-1' })).toThrow(
      /unknown field "fullRefesh"/,
    );
  });

  it('refuses fullRefresh together with skipMlFeatures, naming both', () => {
    expect(() =>
      validateInput({ input: { fullRefresh: true, skipMlFeatures: true }, executionName: 'exec-1' }),
    ).toThrow(
      expect.objectContaining({
        name: 'InvalidInputError',
        message: expect.stringMatching(/fullRefresh: true .* skipMlFeatures: true/),
      }),
    );
    expect(
      validateInput({ input: { fullRefresh: false, skipMlFeatures: true }, executionName: 'exec-1' }).skipMlFeatures,
    ).toBe(true);
  });

  it.each([
    [{ mlOnly: true, skipMlFeatures: true }, /mlOnly: true runs job 2 alone, skipMlFeatures: true runs job 1 alone/],
    [{ mlOnly: true, maxFiles: 50 }, /maxFiles: 50 bounds job 1, which mlOnly: true skips/],
  ])('refuses %j: mlOnly contradicts an option of job 1, naming both', (input, message) => {
    expect(() => validateInput({ input, executionName: 'exec-1' })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(message) }),
    );
  });

  it('refuses an event without the execution name', () => {
    expect(() => validateInput({ input: {} })).toThrow(
      expect.objectContaining({ name: 'InvalidInputError', message: expect.stringMatching(/executionName/) }),
    );
  });

  it('refuses an execution name that cannot be a Spark run id', () => {
    expect(() => validateInput({ input: {}, executionName: '-starts-with-dash' })).toThrow(
      expect.objectContaining({
        name: 'InvalidInputError',
        message: expect.stringMatching(
          /"-starts-with-dash" cannot be a Spark run id: runId: expected 1 to 128 letters/,
        ),
      }),
    );
  });

  it('keeps the refusal of a 10,000-character execution name under 4 KB', () => {
    expect(() => validateInput({ input: {}, executionName: 'x'.repeat(10_000) })).toThrow(
      expect.objectContaining({
        name: 'InvalidInputError',
        message: expect.stringMatching(/^execution name "x{100}.*\.\.\. \(\d+ characters\)$/),
      }),
    );
    expect(() => validateInput({ input: {}, executionName: 'x'.repeat(10_000) })).toThrow(
      expect.objectContaining({ message: expect.toSatisfy((message: string) => message.length <= 4096) }),
    );
  });
});

describe('buildJobSpec', () => {
  const run = { runId: 'exec-1', options: {}, skipMlFeatures: false };

  it('gives job 1 its catalog, namespace, summary and raw locations', () => {
    const spec = buildJobSpec('features', { ...run, options: { maxFiles: 50 } }, settings, 'tok');

    expect(spec).toEqual({
      name: 'quantum-features-exec-1',
      entryPoint: 'feature_processing.py',
      pyFiles: ['quantum_pipeline.zip'],
      entryPointArguments: [
        '--run-id',
        'exec-1',
        '--catalog',
        'quantum_catalog',
        '--namespace',
        'quantum_features',
        '--summary-uri',
        's3a://features/pipeline-runs',
        '--raw-uri',
        's3a://raw-results/experiments',
        '--max-files',
        '50',
      ],
      sparkConf: { 'spark.x': '1' },
      resources: settings.resources,
      extraSubmitArgs: ['--verbose'],
      clientToken: 'tok',
    });
  });

  it('gives job 2 the deployed W/H/T unless the input overrides them, and --full-refresh when asked', () => {
    const plain = buildJobSpec('ml-features', run, settings, 'tok').entryPointArguments;
    const custom = buildJobSpec(
      'ml-features',
      { ...run, options: { fullRefresh: true, mlParams: { trajectoryHead: 3 } } },
      settings,
      'tok',
    ).entryPointArguments;

    expect(plain.slice(-6)).toEqual(['--rolling-window', '5', '--trajectory-head', '10', '--trajectory-tail', '10']);
    expect(custom.slice(-7)).toEqual([
      '--rolling-window',
      '5',
      '--trajectory-head',
      '3',
      '--trajectory-tail',
      '10',
      '--full-refresh',
    ]);
  });
});

describe('environment', () => {
  it('names a missing or malformed variable', () => {
    expect(() => readSettings({})).toThrow(
      expect.objectContaining({
        name: 'ConfigurationError',
        message: 'environment variable PIPELINE_SETTINGS is not set',
      }),
    );
    expect(() => readSettings({ PIPELINE_SETTINGS: '{' })).toThrow(/PIPELINE_SETTINGS is not JSON/);
    expect(() => readSettings({ PIPELINE_SETTINGS: JSON.stringify({ ...settings, catalog: 'bad-name' }) })).toThrow(
      /PIPELINE_SETTINGS: catalog: .*got "bad-name"/,
    );
    expect(() => backendFromEnv({ SPARK_BACKEND: 'yarn' })).toThrow(
      /SPARK_BACKEND="yarn": expected emr-serverless or standalone/,
    );
    expect(() => backendFromEnv({ SPARK_BACKEND: 'standalone', SPARK_ARTIFACTS_URI: '/a' })).toThrow(
      /SPARK_REST_URL is not set/,
    );
    expect(() => backendFromEnv({ SPARK_BACKEND: 'emr-serverless', SPARK_ARTIFACTS_URI: 's3://a/' })).toThrow(
      /EMR_APPLICATION_ID is not set/,
    );
  });

  it('builds the backend the variables describe', () => {
    expect(
      backendFromEnv({
        SPARK_BACKEND: 'standalone',
        SPARK_ARTIFACTS_URI: '/a',
        SPARK_REST_URL: 'http://x:6066',
        SPARK_MASTER_URL: 'spark://x:7077',
        SPARK_PYTHON: 'python3',
      }).kind,
    ).toBe('standalone');
    expect(
      backendFromEnv({
        SPARK_BACKEND: 'emr-serverless',
        SPARK_ARTIFACTS_URI: 's3://a/',
        EMR_APPLICATION_ID: 'app',
        EMR_EXECUTION_ROLE_ARN: 'arn:role',
        AWS_REGION: 'eu-west-1',
      }).kind,
    ).toBe('emr-serverless');
  });

  const standaloneEnv = {
    SPARK_BACKEND: 'standalone',
    SPARK_ARTIFACTS_URI: '/a',
    SPARK_REST_URL: 'http://x:6066',
    SPARK_MASTER_URL: 'spark://x:7077',
    SPARK_PYTHON: 'python3',
  };
  const emrEnv = {
    SPARK_BACKEND: 'emr-serverless',
    SPARK_ARTIFACTS_URI: 's3://a/',
    EMR_APPLICATION_ID: 'app',
    EMR_EXECUTION_ROLE_ARN: 'arn:role',
    AWS_REGION: 'eu-west-1',
  };

  it.each([
    ...Object.keys(standaloneEnv)
      .filter((name) => name !== 'SPARK_BACKEND')
      .map((name) => [name, standaloneEnv] as const),
    ...Object.keys(emrEnv)
      .filter((name) => name !== 'SPARK_BACKEND' && name !== 'AWS_REGION')
      .map((name) => [name, emrEnv] as const),
  ])('refuses to start without %s (%j minus it), naming it', (name, env) => {
    const without = { ...env, [name]: '' };

    expect(() => createBackend(without)).toThrow(
      expect.objectContaining({ name: 'ConfigurationError', message: `environment variable ${name} is not set` }),
    );
  });

  it('builds an S3 client that works against Garage: endpoint, path style, checksums only when required', async () => {
    const client = s3ClientFromEnv({
      S3_ENDPOINT: 'http://127.0.0.1:3900',
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: 'garage',
    });

    const endpoint = await client.config.endpoint!();
    expect(`${endpoint.protocol}//${endpoint.hostname}:${endpoint.port}`).toBe('http://127.0.0.1:3900');
    expect(client.config.forcePathStyle).toBe(true);
    expect(await client.config.region()).toBe('garage');
    expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
  });

  it('builds a plain AWS S3 client when no endpoint is set', () => {
    const client = s3ClientFromEnv({ AWS_REGION: 'eu-west-1' });

    expect(client.config.endpoint).toBeUndefined();
    expect(client.config.forcePathStyle).toBe(false);
  });
});
