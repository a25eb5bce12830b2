/**
 * The standalone backend: the request it sends (unit), and the real local master (integration:
 * scripts submitted through the REST API, to success, failure and cancellation).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { JobSpec, JobState } from '../../lambdas/shared/contracts';
import { StandaloneBackend } from '../../lambdas/shared/backends/standalone';

const spec: JobSpec = {
  name: 'quantum-features-run-1', entryPoint: 'job.py', entryPointArguments: ['--run-id', 'run-1'], pyFiles: ['lib.zip'],
  sparkConf: { 'spark.sql.shuffle.partitions': '2' }, resources: { driverCores: 1, driverMemory: '512m', executorCores: 1, executorMemory: '512m' },
  extraSubmitArgs: [], clientToken: 'unused-here',
};

describe('StandaloneBackend request', () => {
  it('launches SparkSubmit in client mode on the worker with the master, conf, py-files and script', () => {
    const backend = new StandaloneBackend({ restUrl: 'http://m:6066', masterUrl: 'spark://m:7077', artifactsDir: '/opt/jobs/', python: '/venv/bin/python' });

    const body = backend.request(spec) as { appArgs: string[]; mainClass: string; environmentVariables: Record<string, string> };

    expect(body.mainClass).toBe('org.apache.spark.deploy.SparkSubmit');
    expect(body.appArgs.slice(0, 4)).toEqual(['--master', 'spark://m:7077', '--deploy-mode', 'client']);
    expect(body.appArgs).toEqual(expect.arrayContaining(['--conf', 'spark.driver.memory=512m', '--conf', 'spark.sql.shuffle.partitions=2']));
    expect(body.appArgs.slice(-5)).toEqual(['--py-files', '/opt/jobs/lib.zip', '/opt/jobs/job.py', '--run-id', 'run-1']);
    expect(body.environmentVariables.PYSPARK_PYTHON).toBe('/venv/bin/python');
  });

  it('reports an unreachable master as SparkBackendUnavailableError', async () => {
    const backend = new StandaloneBackend({ restUrl: 'http://127.0.0.1:9', masterUrl: 'spark://127.0.0.1:7077', artifactsDir: '/x', python: 'python3' });

    await expect(backend.describe('driver-1')).rejects.toMatchObject({ name: 'SparkBackendUnavailableError', message: expect.stringMatching(/unreachable/) });
  });
});

function realBackend(scriptsDir: string): StandaloneBackend {
  const env = process.env;
  for (const name of ['QP_SPARK_REST_URL', 'QP_SPARK_MASTER_URL', 'QP_SPARK_WORK_DIR', 'QP_PYTHON']) {
    if (!env[name]) throw new Error(`${name} is not set: run the tests through \`npm test\`, which starts the data plane`);
  }
  return new StandaloneBackend({
    restUrl: env.QP_SPARK_REST_URL!, masterUrl: env.QP_SPARK_MASTER_URL!, artifactsDir: scriptsDir,
    python: env.QP_PYTHON!, workDir: env.QP_SPARK_WORK_DIR!,
  });
}

async function waitFinal(backend: StandaloneBackend, jobId: string): Promise<{ state: JobState; detail?: string }> {
  for (;;) {
    const status = await backend.describe(jobId);
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(status.state)) return status;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

describe('StandaloneBackend against the local master', () => {
  const dir = mkdtempSync(join(tmpdir(), 'standalone-'));
  writeFileSync(join(dir, 'ok.py'), 'import sys\nprint("hello from", sys.argv[1:])\n');
  writeFileSync(join(dir, 'boom.py'), 'raise RuntimeError("boom: this job fails on purpose")\n');
  writeFileSync(join(dir, 'sleepy.py'), 'import time\ntime.sleep(600)\n');
  const small = { ...spec, pyFiles: [], sparkConf: {} };

  it('runs a script to SUCCEEDED', async () => {
    const backend = realBackend(dir);
    const { jobId } = await backend.submit({ ...small, entryPoint: 'ok.py' });

    expect(jobId).toMatch(/^driver-/);
    expect((await waitFinal(backend, jobId)).state).toBe('SUCCEEDED');
  }, 180_000);

  it('reports a failing script as FAILED with the end of its logs (the Python traceback)', async () => {
    const backend = realBackend(dir);
    const { jobId } = await backend.submit({ ...small, entryPoint: 'boom.py' });

    const status = await waitFinal(backend, jobId);

    expect(status.state).toBe('FAILED');
    expect(status.detail).toMatch(/boom: this job fails on purpose/);
  }, 180_000);

  it('cancels a running driver', async () => {
    const backend = realBackend(dir);
    const { jobId } = await backend.submit({ ...small, entryPoint: 'sleepy.py' });
    await expect.poll(async () => (await backend.describe(jobId)).state, { timeout: 120_000, interval: 1000 }).toBe('RUNNING');

    const outcome = await backend.cancel(jobId);

    expect(outcome.cancelled).toBe(true);
    expect((await waitFinal(backend, jobId)).state).toBe('CANCELLED');
    expect((await backend.cancel(jobId)).cancelled).toBe(false); // already gone: reported, not thrown
  }, 180_000);
});
