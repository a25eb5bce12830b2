/**
 * The Lambda entry files: settings are checked when the module loads (a misconfigured function
 * fails its first invocation at init, naming the variable), and the log lines are one JSON
 * object each, carrying the ids a Logs Insights query follows.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import { ENV } from '../../lambdas/feature-pipeline/contract';
import { pipelineSettings } from './fixtures';

const settings = pipelineSettings;
const standalone = {
  [ENV.backend]: 'standalone',
  [ENV.artifactsUri]: '/opt/jobs',
  [ENV.sparkRestUrl]: 'http://127.0.0.1:6066',
  [ENV.sparkMasterUrl]: 'spark://127.0.0.1:7077',
  [ENV.sparkPython]: 'python3',
  [ENV.settings]: JSON.stringify(settings),
};

function setEnv(values: Record<string, string | undefined>): void {
  for (const [name, value] of Object.entries(values)) vi.stubEnv(name, value as string);
}

afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
  vi.restoreAllMocks();
});

describe('handler modules', () => {
  it.each([
    'lambdas/feature-pipeline/handlers/submit-job.ts',
    'lambdas/feature-pipeline/handlers/job-status.ts',
    'lambdas/feature-pipeline/handlers/cancel-job.ts',
  ])('%s refuses to load without SPARK_BACKEND, naming it', async (handlerFile) => {
    setEnv({ ...standalone, [ENV.backend]: undefined });

    await expect(import(`../../${handlerFile}`)).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: expect.stringMatching(/SPARK_BACKEND/),
    });
  });

  it.each(['lambdas/feature-pipeline/handlers/submit-job.ts', 'lambdas/feature-pipeline/handlers/read-summary.ts'])(
    '%s refuses to load without PIPELINE_SETTINGS, naming it',
    async (handlerFile) => {
      setEnv({ ...standalone, [ENV.settings]: undefined });

      await expect(import(`../../${handlerFile}`)).rejects.toMatchObject({
        name: 'ConfigurationError',
        message: 'environment variable PIPELINE_SETTINGS is not set',
      });
    },
  );

  it.each([
    'lambdas/feature-pipeline/handlers/validate-input.ts',
    'lambdas/feature-pipeline/handlers/acquire-run-slot.ts',
    'lambdas/feature-pipeline/handlers/submit-job.ts',
    'lambdas/feature-pipeline/handlers/job-status.ts',
    'lambdas/feature-pipeline/handlers/cancel-job.ts',
    'lambdas/feature-pipeline/handlers/read-summary.ts',
  ])('%s loads and exports a handler when configured', async (handlerFile) => {
    setEnv({ ...standalone, AWS_REGION: 'eu-west-1' });

    const module = (await import(`../../${handlerFile}`)) as { handler: unknown };

    expect(typeof module.handler).toBe('function');
  });

  it('validate-input answers the state machine with the run context', async () => {
    const { handler } = await import('../../lambdas/feature-pipeline/handlers/validate-input');
    vi.spyOn(process.stdout, 'write').mockImplementation(() => true);

    const run = await handler({ input: { maxFiles: 5 }, executionName: 'manual-1' }, {} as never, () => undefined);

    expect(run).toEqual({ runId: 'manual-1', options: { maxFiles: 5 }, skipMlFeatures: false, mlOnly: false });
  });

  it("validate-input logs with the invocation's request id, function name, cold start and trace id", async () => {
    // Prepare
    setEnv({
      LOG_LEVEL: 'INFO',
      _X_AMZN_TRACE_ID: 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1',
    });
    const { handler } = await import('../../lambdas/feature-pipeline/handlers/validate-input');
    const written = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const context = (awsRequestId: string) => ({ awsRequestId, functionName: 'qp-validate-input' }) as never;

    // Act
    await handler({ input: {}, executionName: 'manual-2' }, context('req-1'), () => undefined);
    await expect(
      handler({ input: { maxFiles: 0 }, executionName: 'manual-3' }, context('req-2'), () => undefined),
    ).rejects.toMatchObject({ name: 'InvalidInputError' });

    // Assess
    const lines = written.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>);
    const trace = '1-5759e988-bd862e3fe1be46a994272793';
    expect(lines).toEqual([
      expect.objectContaining({
        level: 'INFO',
        service: 'validate-input',
        message: 'input accepted',
        runId: 'manual-2',
        requestId: 'req-1',
        functionName: 'qp-validate-input',
        coldStart: true,
        xrayTraceId: trace,
      }),
      expect.objectContaining({
        level: 'WARN',
        service: 'validate-input',
        message: 'input refused',
        error: expect.objectContaining({ name: 'InvalidInputError' }),
        requestId: 'req-2',
        functionName: 'qp-validate-input',
        coldStart: false,
        xrayTraceId: trace,
      }),
    ]);
  });
});

describe('Logger', () => {
  it('writes one JSON line per entry with level, message, service and the bound ids', () => {
    const lines: string[] = [];
    const log = new Logger('job-status', {}, 'INFO', (line) => lines.push(line)).with({
      runId: 'run-1',
      jobId: 'driver-1',
      kind: 'features',
      backend: 'standalone',
    });

    log.debug('not shown');
    log.info('job polled', { state: 'RUNNING' });
    log.error('cancel failed', { error: Object.assign(new Error('down'), { name: 'SparkBackendUnavailableError' }) });

    expect(lines).toHaveLength(2);
    expect(lines.every((line) => !line.includes('\n'))).toBe(true);
    expect(JSON.parse(lines[0])).toMatchObject({
      level: 'INFO',
      message: 'job polled',
      service: 'job-status',
      runId: 'run-1',
      jobId: 'driver-1',
      kind: 'features',
      backend: 'standalone',
      state: 'RUNNING',
    });
    expect(JSON.parse(lines[1]).error).toEqual({ name: 'SparkBackendUnavailableError', message: 'down' });
  });
});
