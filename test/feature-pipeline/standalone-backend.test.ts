/**
 * The standalone backend against a scripted REST master (a fake `fetch` returning the replies
 * Spark 4.0.2's StandaloneRestServer gives): request shape, state mapping, errors, log tail.
 * The real master is exercised in standalone-backend.integration.test.ts.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { StandaloneBackend, type StandaloneBackendProps } from '../../lambdas/feature-pipeline/backends/standalone';
import type { JobSpec } from '../../lambdas/feature-pipeline/contract';

const spec: JobSpec = {
  name: 'quantum-features-run-1',
  entryPoint: 'job.py',
  entryPointArguments: ['--run-id', 'run-1'],
  pyFiles: ['lib.zip'],
  sparkConf: { 'spark.sql.shuffle.partitions': '2' },
  resources: { driverCores: 1, driverMemory: '512m', executorCores: 2, executorMemory: '768m', numExecutors: 2 },
  extraSubmitArgs: ['--packages', 'g:a:1'],
  clientToken: 'unused-here',
};

interface Call {
  url: string;
  method: string;
  body?: unknown;
}

/** A fetch that records each call and answers with the next scripted reply. */
type Reply = { status?: number; json?: unknown; text?: string } | Error;

function scriptedFetch(replies: Reply[]) {
  const calls: Call[] = [];
  const fetch = (async (url: string, init: RequestInit) => {
    calls.push({ url, method: init.method ?? 'GET', body: init.body ? JSON.parse(String(init.body)) : undefined });
    const reply = replies.shift() ?? new Error('no scripted reply left');
    if (reply instanceof Error) throw reply;
    return new Response(reply.text ?? JSON.stringify(reply.json ?? {}), { status: reply.status ?? 200 });
  }) as unknown as typeof globalThis.fetch;
  return { fetch, calls };
}

function backend(fetch: typeof globalThis.fetch, props: Partial<StandaloneBackendProps> = {}): StandaloneBackend {
  return new StandaloneBackend({
    restUrl: 'http://m:6066/',
    masterUrl: 'spark://m:7077',
    artifactsDir: '/opt/jobs/',
    python: '/venv/bin/python',
    fetch,
    ...props,
  });
}

const statusReply = (driverState: string, extra: Record<string, unknown> = {}) => ({
  json: {
    action: 'SubmissionStatusResponse',
    serverSparkVersion: '4.0.2',
    submissionId: 'driver-1',
    success: true,
    driverState,
    ...extra,
  },
});

describe('StandaloneBackend.submit', () => {
  it('launches SparkSubmit in client mode on the worker with master, resources, conf, py-files, extra args and script', async () => {
    const { fetch, calls } = scriptedFetch([
      { json: { action: 'CreateSubmissionResponse', success: true, submissionId: 'driver-1' } },
    ]);

    const { jobId } = await backend(fetch).submit(spec);

    expect(jobId).toBe('driver-1');
    expect(calls[0]).toMatchObject({ url: 'http://m:6066/v1/submissions/create', method: 'POST' });
    const body = calls[0].body as {
      appArgs: string[];
      sparkProperties: Record<string, string>;
      [key: string]: unknown;
    };
    expect(body).toMatchObject({
      action: 'CreateSubmissionRequest',
      clientSparkVersion: '4.0.2',
      appResource: '/opt/jobs/job.py',
      mainClass: 'org.apache.spark.deploy.SparkSubmit',
      environmentVariables: { PYSPARK_PYTHON: '/venv/bin/python', SPARK_LOCAL_IP: '127.0.0.1' },
    });
    expect(body.sparkProperties).toMatchObject({
      'spark.master': 'spark://m:7077',
      'spark.submit.deployMode': 'cluster',
      'spark.app.name': 'quantum-features-run-1',
      'spark.driver.memory': '512m',
      'spark.sql.shuffle.partitions': '2',
    });
    expect(body.appArgs.slice(0, 4)).toEqual(['--master', 'spark://m:7077', '--deploy-mode', 'client']);
    for (const conf of [
      'spark.driver.cores=1',
      'spark.driver.memory=512m',
      'spark.executor.cores=2',
      'spark.executor.memory=768m',
      'spark.executor.instances=2',
      'spark.sql.shuffle.partitions=2',
    ]) {
      expect(body.appArgs.join(' ')).toContain(`--conf ${conf}`);
    }
    // The worker's SparkSubmit must not be told to run in cluster mode again.
    expect(body.appArgs.join(' ')).not.toContain('spark.submit.deployMode');
    expect(body.appArgs.slice(-7)).toEqual([
      '--py-files',
      '/opt/jobs/lib.zip',
      '--packages',
      'g:a:1',
      '/opt/jobs/job.py',
      '--run-id',
      'run-1',
    ]);
  });

  it('keeps absolute entry points and py-files as they are', async () => {
    const { fetch, calls } = scriptedFetch([{ json: { success: true, submissionId: 'driver-1' } }]);

    await backend(fetch).submit({ ...spec, entryPoint: '/elsewhere/job.py', pyFiles: ['file:///dist/lib.zip'] });

    expect((calls[0].body as { appArgs: string[] }).appArgs).toEqual(
      expect.arrayContaining(['file:///dist/lib.zip', '/elsewhere/job.py']),
    );
  });

  it("reports a refused submission as SparkSubmitRejectedError with the master's message", async () => {
    const { fetch } = scriptedFetch([
      {
        status: 400,
        json: {
          action: 'ErrorResponse',
          message: 'Malformed request: appResource missing',
          serverSparkVersion: '4.0.2',
        },
      },
    ]);

    await expect(backend(fetch).submit(spec)).rejects.toMatchObject({
      name: 'SparkSubmitRejectedError',
      message: expect.stringMatching(/appResource missing/),
    });
  });

  it.each<[string, Reply, RegExp]>([
    [
      'a refused connection',
      new TypeError('fetch failed', {
        cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:6066'), { code: 'ECONNREFUSED' }),
      }),
      /^POST \/v1\/submissions\/create: the Spark master at \S+ is unreachable$/,
    ],
    ['an HTTP 503', { status: 503, text: 'Service Unavailable' }, /: HTTP 503 from the Spark master$/],
    [
      'a reply that is not JSON',
      { status: 200, text: '<html>proxy error</html>' },
      /: HTTP 200, not JSON: <html>proxy error<\/html>$/,
    ],
  ])('reports %s as SparkBackendUnavailableError with a message naming it', async (_label, reply, message) => {
    const { fetch } = scriptedFetch([reply]);

    const thrown = (await backend(fetch)
      .submit(spec)
      .catch((e: Error) => e)) as Error;

    expect(thrown.name).toBe('SparkBackendUnavailableError');
    expect(thrown.message).toMatch(message);
  });

  it('keeps the network error as the cause of SparkBackendUnavailableError', async () => {
    const refused = new TypeError('fetch failed', { cause: new Error('connect ECONNREFUSED 127.0.0.1:6066') });
    const { fetch } = scriptedFetch([refused]);

    const thrown = (await backend(fetch)
      .submit(spec)
      .catch((e: Error) => e)) as Error;

    expect(thrown.cause).toBe(refused);
  });
});

describe('StandaloneBackend.describe', () => {
  it.each([
    ['SUBMITTED', 'PENDING'],
    ['RELAUNCHING', 'PENDING'],
    ['UNKNOWN', 'PENDING'],
    ['RUNNING', 'RUNNING'],
    ['FINISHED', 'SUCCEEDED'],
    ['FAILED', 'FAILED'],
    ['ERROR', 'FAILED'],
    ['KILLED', 'CANCELLED'],
  ])('maps driver state %s to %s, always with a detail', async (driverState, state) => {
    const { fetch, calls } = scriptedFetch([statusReply(driverState)]);

    const status = await backend(fetch).describe('driver-1');

    expect(calls[0]).toMatchObject({ url: 'http://m:6066/v1/submissions/status/driver-1', method: 'GET' });
    expect(status.state).toBe(state);
    expect(status.backendState).toBe(driverState);
    expect(status.detail).toEqual(expect.stringContaining(driverState));
  });

  it("quotes the end of a failed driver's stderr and stdout (where the Python traceback lands)", async () => {
    const workDir = mkdtempSync(join(tmpdir(), 'spark-work-'));
    mkdirSync(join(workDir, 'driver-1'));
    writeFileSync(
      join(workDir, 'driver-1', 'stderr'),
      `${Array.from({ length: 100 }, (_, i) => `log line ${i}`).join('\n')}\n`,
    );
    writeFileSync(join(workDir, 'driver-1', 'stdout'), 'Traceback (most recent call last):\nRuntimeError: boom\n');
    const { fetch } = scriptedFetch([statusReply('FAILED')]);

    const { detail } = await backend(fetch, { workDir }).describe('driver-1');

    expect(detail).toMatch(
      /log line 99\n--- driver stdout ---\nTraceback \(most recent call last\):\nRuntimeError: boom$/,
    );
    expect(detail).not.toContain('log line 79\n');
    expect(detail!.length).toBeLessThanOrEqual(3500);
  });

  it("falls back to the master's message when the work dir is not readable here", async () => {
    const { fetch } = scriptedFetch([
      statusReply('ERROR', { message: 'Exception from the cluster:\njava.io.IOException: no python' }),
    ]);

    const { detail } = await backend(fetch, { workDir: '/nonexistent/work' }).describe('driver-1');

    expect(detail).toMatch(/no python/);
  });

  it('reports a driver the master no longer knows as SparkJobFailedError, so the phase resubmits', async () => {
    const { fetch } = scriptedFetch([
      { json: { action: 'SubmissionStatusResponse', submissionId: 'driver-1', success: false } },
    ]);

    await expect(backend(fetch).describe('driver-1')).rejects.toMatchObject({
      name: 'SparkJobFailedError',
      message: expect.stringMatching(/driver-1 is unknown/),
    });
  });

  it('reports an unreachable master as SparkBackendUnavailableError', async () => {
    const real = new StandaloneBackend({
      restUrl: 'http://127.0.0.1:9',
      masterUrl: 'spark://127.0.0.1:7077',
      artifactsDir: '/x',
      python: 'python3',
    });

    await expect(real.describe('driver-1')).rejects.toMatchObject({
      name: 'SparkBackendUnavailableError',
      message: expect.stringMatching(/unreachable/),
    });
  });
});

describe('StandaloneBackend.cancel', () => {
  it('kills a running driver', async () => {
    const { fetch, calls } = scriptedFetch([
      { json: { action: 'KillSubmissionResponse', success: true, message: 'Kill request for driver-1 submitted' } },
    ]);

    expect(await backend(fetch).cancel('driver-1')).toEqual({ cancelled: true, note: 'kill accepted for driver-1' });
    expect(calls[0]).toMatchObject({ url: 'http://m:6066/v1/submissions/kill/driver-1', method: 'POST' });
  });

  it('reports a driver that already finished instead of failing', async () => {
    const { fetch } = scriptedFetch([
      {
        json: {
          action: 'KillSubmissionResponse',
          success: false,
          message: 'Driver driver-1 has already finished or does not exist',
        },
      },
    ]);

    expect(await backend(fetch).cancel('driver-1')).toEqual({
      cancelled: false,
      note: 'driver-1 not killed: Driver driver-1 has already finished or does not exist',
    });
  });
});

/** A driver's work dir with the given stderr and stdout, as the worker leaves it. */
function driverDir(jobId: string, stderr: string, stdout: string): string {
  const workDir = mkdtempSync(join(tmpdir(), 'spark-work-'));
  mkdirSync(join(workDir, jobId));
  writeFileSync(join(workDir, jobId, 'stderr'), stderr);
  writeFileSync(join(workDir, jobId, 'stdout'), stdout);
  return workDir;
}

/** The head of every driver's stderr: the worker's launch command (one very long line), then Spark's log. */
const LAUNCH_HEADER = [
  `Launch Command: "/usr/lib/jvm/java-17-openjdk-amd64/bin/java" "-cp" "${'/jars/x.jar:'.repeat(300)}" "org.apache.spark.deploy.worker.DriverWrapper"`,
  '========================================',
  '',
  'WARNING: Using incubator modules: jdk.incubator.vector',
  "Using Spark's default log4j profile: org/apache/spark/log4j2-defaults.properties",
  '26/12/02 11:08:47 INFO SecurityManager: Changing view acls to: root',
];

describe('StandaloneBackend.describe: the cause leads with how the driver ended', () => {
  it('names a driver killed with kill -9 (recorded: FAILED, no message, a log that stops mid-run) SIGKILL', async () => {
    // Prepare: the REST answer and the work dir of a driver whose JVM got `kill -9` (Spark 4.0.2).
    const jobId = 'driver-20261202110845-0000';
    const workDir = driverDir(
      jobId,
      [
        ...LAUNCH_HEADER,
        "26/12/02 11:08:48 INFO Utils: Successfully started service 'Driver' on port 34995.",
        '26/12/02 11:08:48 INFO WorkerWatcher: Successfully connected to spark://Worker@127.0.0.1:36455',
        '26/12/02 11:08:48 INFO TransportClientFactory: Successfully created connection to /127.0.0.1:36455 after 63 ms (0 ms spent in bootstraps)',
        '',
      ].join('\n'),
      'sleeping\n',
    );
    const { fetch } = scriptedFetch([
      {
        json: {
          action: 'SubmissionStatusResponse',
          driverState: 'FAILED',
          serverSparkVersion: '4.0.2',
          submissionId: jobId,
          success: true,
          workerHostPort: '127.0.0.1:36455',
          workerId: 'worker-20261202110527-127.0.0.1-36455',
        },
      },
    ]);

    // Act
    const { state, detail } = await backend(fetch, { workDir }).describe(jobId);

    // Assess
    expect(state).toBe('FAILED');
    expect(detail!.split('\n')[0]).toBe(
      `driver ${jobId} FAILED (SIGKILL): its log stops without Spark's shutdown, as after kill -9 or the kernel's OOM killer`,
    );
    expect(detail).toMatch(
      /TransportClientFactory: Successfully created connection[^\n]*\n--- driver stdout ---\nsleeping$/,
    );
    // The launch command is cut, so it cannot push the log out of the detail.
    expect(detail).toMatch(/Launch Command: .{300,400} \.\.\.\n/);
  });

  it('names the exit status and the exception of a driver whose script raised', async () => {
    const workDir = driverDir(
      'driver-1',
      [...LAUNCH_HEADER, '26/12/02 11:01:36 INFO ShutdownHookManager: Shutdown hook called', ''].join('\n'),
      'Traceback (most recent call last):\n  File "/tmp/boom.py", line 1, in <module>\n    raise RuntimeError("boom")\nRuntimeError: boom\n',
    );
    const { fetch } = scriptedFetch([statusReply('FAILED')]);

    const { detail } = await backend(fetch, { workDir }).describe('driver-1');

    expect(detail!.split('\n')[0]).toBe('driver driver-1 FAILED (exit 1): RuntimeError: boom');
  });

  it('names OOM when the log shows java.lang.OutOfMemoryError', async () => {
    const workDir = driverDir(
      'driver-1',
      [
        ...LAUNCH_HEADER,
        '26/12/02 11:20:01 ERROR Utils: Uncaught exception in thread driver-heartbeater',
        'java.lang.OutOfMemoryError: Java heap space',
        '\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)',
        '26/12/02 11:20:02 INFO ShutdownHookManager: Shutdown hook called',
        '',
      ].join('\n'),
      'Traceback (most recent call last):\npy4j.protocol.Py4JJavaError: An error occurred while calling o42.count.\n',
    );
    const { fetch } = scriptedFetch([statusReply('FAILED')]);

    const { detail } = await backend(fetch, { workDir }).describe('driver-1');

    expect(detail!.split('\n')[0]).toBe(
      'driver driver-1 FAILED (exit 1), OOM (java.lang.OutOfMemoryError: Java heap space): ' +
        'py4j.protocol.Py4JJavaError: An error occurred while calling o42.count.',
    );
  });

  it("names an exit status the log states, with its signal, and ignores the executors' exits", async () => {
    const workDir = driverDir(
      'driver-1',
      [
        ...LAUNCH_HEADER,
        '26/12/02 11:20:01 INFO StandaloneSchedulerBackend: Executor app-1/0 removed: Command exited with code 1',
        '26/12/02 11:20:02 ERROR SparkSubmit: User application exited with 143',
        '26/12/02 11:20:02 INFO ShutdownHookManager: Shutdown hook called',
        '',
      ].join('\n'),
      '',
    );
    const { fetch } = scriptedFetch([statusReply('FAILED')]);

    const { detail } = await backend(fetch, { workDir }).describe('driver-1');

    expect(detail!.split('\n')[0]).toBe('driver driver-1 FAILED (exit 143, SIGTERM)');
  });

  it("leads an ERROR with the master's exception, and a KILLED driver with how it was killed", async () => {
    const { fetch } = scriptedFetch([
      statusReply('ERROR', {
        message: 'Exception from the cluster:\njava.io.IOException: Cannot run program "python"',
      }),
      statusReply('KILLED'),
    ]);
    const standalone = backend(fetch, { workDir: '/nonexistent/work' });

    const error = await standalone.describe('driver-1');
    const killed = await standalone.describe('driver-1');

    expect(error.detail).toBe(
      'driver driver-1 ERROR: java.io.IOException: Cannot run program "python"\n' +
        'Exception from the cluster:\njava.io.IOException: Cannot run program "python"',
    );
    expect(killed).toMatchObject({
      state: 'CANCELLED',
      detail: 'driver driver-1 KILLED: killed through the Spark master (a kill request)',
    });
  });

  it('keeps the lead line when the log tail fills the detail', async () => {
    const workDir = driverDir(
      'driver-1',
      `${Array.from({ length: 100 }, (_, i) => `log line ${i} ${'x'.repeat(300)}`).join('\n')}\n`,
      'Traceback (most recent call last):\nRuntimeError: boom\n',
    );
    const { fetch } = scriptedFetch([statusReply('FAILED')]);

    const { detail } = await backend(fetch, { workDir }).describe('driver-1');

    expect(detail).toMatch(/^driver driver-1 FAILED \(exit 1\): RuntimeError: boom\n/);
    expect(detail).toMatch(/RuntimeError: boom$/);
    expect(detail!.length).toBeLessThanOrEqual(3500);
  });
});
