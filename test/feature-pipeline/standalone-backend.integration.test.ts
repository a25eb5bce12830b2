/**
 * The standalone backend against the REAL local Spark master (localstack/dataplane/dataplane.sh): tiny
 * Python scripts submitted through the REST API run to success, to failure and to cancellation.
 * The scripts import the built quantum_pipeline.zip through --py-files, as the real jobs do.
 *
 * Needs QP_SPARK_REST_URL, QP_SPARK_MASTER_URL, QP_SPARK_WORK_DIR, QP_PYTHON (from
 * ~/.local/state/quantum-pipeline/dataplane.env) and QP_DIST_DIR (dist/spark-jobs). It fails,
 * rather than skips, without them: a silently skipped integration test proves nothing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StandaloneBackend } from '../../lambdas/feature-pipeline/backends/standalone';
import type { BackendJobStatus } from '../../lambdas/feature-pipeline/backends/types';
import { FINAL_JOB_STATES, type JobSpec, PY_FILES_ARCHIVE } from '../../lambdas/feature-pipeline/contract';

const REQUIRED = ['QP_SPARK_REST_URL', 'QP_SPARK_MASTER_URL', 'QP_SPARK_WORK_DIR', 'QP_PYTHON', 'QP_DIST_DIR'] as const;
const PER_TEST_MS = 180_000;

function dataPlane(): Record<(typeof REQUIRED)[number], string> {
  const missing = REQUIRED.filter((name) => !process.env[name]);
  if (missing.length) {
    throw new Error(
      `${missing.join(', ')} not set: start the data plane (bash localstack/dataplane/dataplane.sh start), then run ` +
        '`set -a; . ~/.local/state/quantum-pipeline/dataplane.env; set +a; export QP_DIST_DIR=$PWD/dist/spark-jobs` (npm test does both)',
    );
  }
  const env = Object.fromEntries(REQUIRED.map((name) => [name, process.env[name]!])) as Record<
    (typeof REQUIRED)[number],
    string
  >;
  if (!existsSync(join(env.QP_DIST_DIR, PY_FILES_ARCHIVE))) {
    throw new Error(`${join(env.QP_DIST_DIR, PY_FILES_ARCHIVE)} is missing: build it with npm run build:spark`);
  }
  return env;
}

/** The backend as the Lambda would build it, with the scripts folder as its artifacts dir. */
function realBackend(scriptsDir: string): StandaloneBackend {
  const env = dataPlane();
  return new StandaloneBackend({
    restUrl: env.QP_SPARK_REST_URL,
    masterUrl: env.QP_SPARK_MASTER_URL,
    artifactsDir: scriptsDir,
    python: env.QP_PYTHON,
    workDir: env.QP_SPARK_WORK_DIR,
  });
}

async function pollUntilFinal(backend: StandaloneBackend, jobId: string): Promise<BackendJobStatus> {
  for (;;) {
    const status = await backend.describe(jobId);
    if (FINAL_JOB_STATES.has(status.state)) return status;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

describe('StandaloneBackend against the local master', () => {
  const scripts = mkdtempSync(join(tmpdir(), 'standalone-it-'));
  // Parses its arguments with the jobs' own parser from the --py-files archive, so a success
  // proves the script, the archive and the arguments all reached the driver.
  writeFileSync(
    join(scripts, 'ok.py'),
    [
      'import sys',
      'from quantum_pipeline.config import parse_feature_args',
      'config = parse_feature_args(sys.argv[1:])',
      'print("integration ok", config.run_id, flush=True)',
      '',
    ].join('\n'),
  );
  writeFileSync(join(scripts, 'boom.py'), 'raise RuntimeError("boom: this job fails on purpose")\n');
  writeFileSync(join(scripts, 'sleepy.py'), 'import time\nprint("sleeping", flush=True)\ntime.sleep(600)\n');

  function tinySpec(entryPoint: string): JobSpec {
    return {
      name: `lambda-it-${entryPoint}`,
      entryPoint,
      entryPointArguments: ['--run-id', 'lambda-it-1'],
      pyFiles: [join(dataPlane().QP_DIST_DIR, PY_FILES_ARCHIVE)],
      sparkConf: {},
      resources: { driverCores: 1, driverMemory: '512m', executorCores: 1, executorMemory: '512m' },
      extraSubmitArgs: [],
      clientToken: 'unused-by-standalone',
    };
  }

  it(
    'runs a script to SUCCEEDED',
    async () => {
      const backend = realBackend(scripts);

      const { jobId } = await backend.submit(tinySpec('ok.py'));
      const status = await pollUntilFinal(backend, jobId);

      expect(jobId).toMatch(/^driver-/);
      expect(status).toMatchObject({
        state: 'SUCCEEDED',
        backendState: 'FINISHED',
        detail: 'standalone driver FINISHED',
      });
    },
    PER_TEST_MS,
  );

  it(
    'reports a failing script as FAILED with the end of its logs (the Python traceback)',
    async () => {
      const backend = realBackend(scripts);

      const { jobId } = await backend.submit(tinySpec('boom.py'));
      const status = await pollUntilFinal(backend, jobId);

      expect(status.state).toBe('FAILED');
      expect(status.detail).toMatch(/ INFO \w+: /); // the driver's Spark log (stderr), cut from the front to fit
      expect(status.detail!.length).toBeLessThanOrEqual(3500);
      expect(status.detail).toMatch(/RuntimeError: boom: this job fails on purpose$/);
      // The cause leads with the driver, its state, the exit status and the exception.
      expect(status.detail!.split('\n')[0]).toBe(
        `driver ${jobId} FAILED (exit 1): RuntimeError: boom: this job fails on purpose`,
      );
    },
    PER_TEST_MS,
  );

  it(
    'names a driver killed with kill -9 SIGKILL, then quotes the log it left',
    async () => {
      // Prepare: a running driver, its JVM (DriverWrapper, on this machine's worker) found by its id.
      const backend = realBackend(scripts);
      const { jobId } = await backend.submit(tinySpec('sleepy.py'));
      await expect
        .poll(() => readFile(join(dataPlane().QP_SPARK_WORK_DIR, jobId, 'stdout'), 'utf8').catch(() => ''), {
          timeout: 120_000,
          interval: 1000,
        })
        .toContain('sleeping');
      const pid = Number(
        execFileSync('pgrep', ['-f', `DriverWrapper.*${jobId}/`])
          .toString()
          .trim()
          .split('\n')[0],
      );

      // Act
      process.kill(pid, 'SIGKILL');
      const status = await pollUntilFinal(backend, jobId);

      // Assess
      expect(status).toMatchObject({ state: 'FAILED', backendState: 'FAILED' });
      expect(status.detail!.split('\n')[0]).toBe(
        `driver ${jobId} FAILED (SIGKILL): its log stops without Spark's shutdown, as after kill -9 or the kernel's OOM killer`,
      );
      expect(status.detail).toMatch(/--- driver stdout ---\nsleeping$/);
    },
    PER_TEST_MS,
  );

  it(
    'cancels a running driver; a second cancel reports it gone',
    async () => {
      const backend = realBackend(scripts);
      const { jobId } = await backend.submit(tinySpec('sleepy.py'));
      await expect
        .poll(async () => (await backend.describe(jobId)).state, { timeout: 120_000, interval: 1000 })
        .toBe('RUNNING');

      const outcome = await backend.cancel(jobId);
      const status = await pollUntilFinal(backend, jobId);
      const again = await backend.cancel(jobId);

      expect(outcome.cancelled).toBe(true);
      expect(status).toMatchObject({ state: 'CANCELLED', backendState: 'KILLED' });
      expect(again).toMatchObject({
        cancelled: false,
        note: expect.stringMatching(/already finished or does not exist/),
      });
    },
    PER_TEST_MS,
  );
});
