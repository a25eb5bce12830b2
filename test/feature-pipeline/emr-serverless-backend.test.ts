/** The EMR Serverless backend against the SDK boundary (aws-sdk-client-mock, real command shapes). */
import {
  CancelJobRunCommand,
  ConflictException,
  EMRServerlessClient,
  EMRServerlessServiceException,
  GetJobRunCommand,
  InternalServerException,
  JobRunState,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  StartJobRunCommand,
  ValidationException,
} from '@aws-sdk/client-emr-serverless';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import {
  EmrServerlessBackend,
  type EmrServerlessBackendProps,
  sparkSubmitParameters,
} from '../../lambdas/feature-pipeline/backends/emr-serverless';
import type { JobSpec } from '../../lambdas/feature-pipeline/contract';

const emr = mockClient(EMRServerlessClient);
const meta = { $metadata: {} };

function backend(overrides: Partial<EmrServerlessBackendProps> = {}): EmrServerlessBackend {
  return new EmrServerlessBackend({
    client: new EMRServerlessClient({ region: 'eu-west-1' }),
    applicationId: 'app-1',
    executionRoleArn: 'arn:aws:iam::123456789012:role/job',
    artifactsUri: 's3://artifacts/spark-jobs/',
    logUri: 's3://artifacts/emr-logs/',
    ...overrides,
  });
}

/**
 * How the SDK surfaces an error code it has no class for (ThrottlingException and
 * AccessDeniedException are not modelled by client-emr-serverless): the service base class
 * carrying the code as its name.
 */
function unmodelled(name: string, httpStatusCode: number, message: string): EMRServerlessServiceException {
  return new EMRServerlessServiceException({
    name,
    $fault: httpStatusCode >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode },
    message,
  });
}
/** What the Node HTTP handler throws when the endpoint cannot be reached. */
function networkError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 10.0.0.1:443`), { code, errno: -111, syscall: 'connect' });
}

const spec: JobSpec = {
  name: 'quantum-features-run-1',
  entryPoint: 'feature_processing.py',
  entryPointArguments: ['--run-id', 'run-1'],
  pyFiles: ['quantum_pipeline.zip'],
  sparkConf: { 'spark.sql.shuffle.partitions': '8' },
  resources: { driverCores: 1, driverMemory: '1g', executorCores: 2, executorMemory: '1536m', numExecutors: 3 },
  extraSubmitArgs: ['--packages', 'g:a:1'],
  clientToken: 'token-1',
};

beforeEach(() => emr.reset());

describe('EmrServerlessBackend.submit', () => {
  it('starts a job run with the client token, resolved artifacts and every spark-submit knob', async () => {
    emr.on(StartJobRunCommand).resolves({ ...meta, applicationId: 'app-1', jobRunId: 'jr-1', arn: 'arn' });

    const { jobId } = await backend().submit(spec);

    expect(jobId).toBe('jr-1');
    const input = emr.commandCalls(StartJobRunCommand)[0].args[0].input;
    expect(input).toMatchObject({
      applicationId: 'app-1',
      clientToken: 'token-1',
      name: 'quantum-features-run-1',
      executionRoleArn: 'arn:aws:iam::123456789012:role/job',
      jobDriver: {
        sparkSubmit: {
          entryPoint: 's3://artifacts/spark-jobs/feature_processing.py',
          entryPointArguments: ['--run-id', 'run-1'],
        },
      },
      configurationOverrides: {
        monitoringConfiguration: { s3MonitoringConfiguration: { logUri: 's3://artifacts/emr-logs/' } },
      },
    });
    const parameters = input.jobDriver!.sparkSubmit!.sparkSubmitParameters!;
    expect(parameters).toContain('--py-files s3://artifacts/spark-jobs/quantum_pipeline.zip');
    for (const conf of [
      'spark.driver.memory=1g',
      'spark.executor.cores=2',
      'spark.executor.memory=1536m',
      'spark.executor.instances=3',
      'spark.sql.shuffle.partitions=8',
    ]) {
      expect(parameters).toContain(`--conf ${conf}`);
    }
    expect(parameters.endsWith('--packages g:a:1')).toBe(true);
  });

  it('quotes values with spaces so spark-submit keeps them whole', () => {
    const parameters = sparkSubmitParameters(
      { ...spec, sparkConf: { 'spark.driver.extraJavaOptions': '-Da=1 -Db=2' } },
      's3://x/',
    );

    expect(parameters).toContain("--conf 'spark.driver.extraJavaOptions=-Da=1 -Db=2'");
  });

  it('sends no log location or execution timeout unless configured, and the timeout when it is', async () => {
    emr.on(StartJobRunCommand).resolves({ ...meta, applicationId: 'app-1', jobRunId: 'jr-1', arn: 'arn' });

    await backend({ logUri: undefined }).submit(spec);
    await backend({ executionTimeoutMinutes: 180 }).submit(spec);

    const [plain, bounded] = emr.commandCalls(StartJobRunCommand).map((call) => call.args[0].input);
    expect(plain).not.toHaveProperty('configurationOverrides');
    expect(plain).not.toHaveProperty('executionTimeoutMinutes');
    expect(bounded.executionTimeoutMinutes).toBe(180);
  });

  it('keeps an absolute entry point and py-files URI as given', async () => {
    emr.on(StartJobRunCommand).resolves({ ...meta, applicationId: 'app-1', jobRunId: 'jr-1', arn: 'arn' });

    await backend().submit({ ...spec, entryPoint: 's3://other/job.py', pyFiles: ['s3://other/lib.zip'] });

    const input = emr.commandCalls(StartJobRunCommand)[0].args[0].input;
    expect(input.jobDriver!.sparkSubmit!.entryPoint).toBe('s3://other/job.py');
    expect(input.jobDriver!.sparkSubmit!.sparkSubmitParameters).toContain('--py-files s3://other/lib.zip');
  });

  it.each([
    [
      new ValidationException({ message: 'bad entry point', $metadata: { httpStatusCode: 400 } }),
      'SparkSubmitRejectedError',
    ],
    [
      new ResourceNotFoundException({ message: 'no application', $metadata: { httpStatusCode: 404 } }),
      'SparkSubmitRejectedError',
    ],
    [
      new ConflictException({ message: 'token reused with other parameters', $metadata: { httpStatusCode: 409 } }),
      'SparkSubmitRejectedError',
    ],
    [
      unmodelled('AccessDeniedException', 403, 'not authorized to perform emr-serverless:StartJobRun'),
      'SparkSubmitRejectedError',
    ],
    [
      new InternalServerException({ message: 'oops', $metadata: { httpStatusCode: 500 } }),
      'SparkBackendUnavailableError',
    ],
    [
      new ServiceQuotaExceededException({ message: 'max concurrent runs', $metadata: { httpStatusCode: 402 } }),
      'SparkBackendUnavailableError',
    ],
    [unmodelled('ThrottlingException', 429, 'Rate exceeded'), 'SparkBackendUnavailableError'],
    [networkError('ECONNREFUSED'), 'SparkBackendUnavailableError'],
    [networkError('ENOTFOUND'), 'SparkBackendUnavailableError'],
    [Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }), 'SparkBackendUnavailableError'],
  ])('maps %s to %s, keeping the cause', async (error, expected) => {
    emr.on(StartJobRunCommand).rejects(error);

    const thrown = (await backend()
      .submit(spec)
      .catch((e: Error) => e)) as Error;

    expect(thrown.name).toBe(expected);
    expect((thrown as Error & { cause: unknown }).cause).toBe(error);
  });
});

describe('EmrServerlessBackend.describe', () => {
  const expected: Record<JobRunState, string> = {
    SUBMITTED: 'PENDING',
    PENDING: 'PENDING',
    SCHEDULED: 'PENDING',
    QUEUED: 'PENDING',
    RUNNING: 'RUNNING',
    CANCELLING: 'CANCELLING',
    SUCCESS: 'SUCCEEDED',
    FAILED: 'FAILED',
    CANCELLED: 'CANCELLED',
  };

  it('covers every state of the SDK enum', () => {
    expect(Object.keys(expected).sort()).toEqual(Object.values(JobRunState).sort());
  });

  it.each(Object.entries(expected))('maps %s to %s', async (emrState, state) => {
    emr.on(GetJobRunCommand).resolves({
      ...meta,
      jobRun: { state: emrState as JobRunState, stateDetails: `details of ${emrState}` } as never,
    });

    const status = await backend().describe('jr-1');

    // A failed or cancelled run's detail leads with the run and its state (see the next block).
    const lead = state === 'FAILED' || state === 'CANCELLED' ? `job run jr-1 ${emrState}\n` : '';
    expect(status).toEqual({ state, backendState: emrState, detail: `${lead}details of ${emrState}` });
    expect(emr.commandCalls(GetJobRunCommand)[0].args[0].input).toEqual({ applicationId: 'app-1', jobRunId: 'jr-1' });
  });

  it('treats an unknown state as a backend problem, not a verdict', async () => {
    emr.on(GetJobRunCommand).resolves({ ...meta, jobRun: { state: 'EXPLODED' } as never });

    await expect(backend().describe('jr-1')).rejects.toMatchObject({ name: 'SparkBackendUnavailableError' });
  });

  it('lets a missing job run surface under its own name', async () => {
    emr.on(GetJobRunCommand).rejects(new ResourceNotFoundException({ message: 'gone', $metadata: {} }));

    await expect(backend().describe('jr-1')).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it.each([
    unmodelled('ThrottlingException', 429, 'Rate exceeded'),
    new InternalServerException({ message: 'oops', $metadata: { httpStatusCode: 500 } }),
    networkError('ECONNRESET'),
  ])('retries %s through SparkBackendUnavailableError', async (error) => {
    emr.on(GetJobRunCommand).rejects(error);

    await expect(backend().describe('jr-1')).rejects.toMatchObject({
      name: 'SparkBackendUnavailableError',
      cause: error,
    });
  });
});

describe('EmrServerlessBackend.describe: the cause leads with how the job run ended', () => {
  it.each([
    [
      'an exit status and an OOM',
      'Job failed, please check complete logs in configured logging destination. ExitCode: 1. Last few exceptions: ' +
        'java.lang.OutOfMemoryError: Java heap space; py4j.protocol.Py4JJavaError: An error occurred while calling o91.save',
      'job run jr-1 FAILED (exit 1), OOM (java.lang.OutOfMemoryError: Java heap space)',
    ],
    [
      'a signal',
      'Job failed, please check complete logs in configured logging destination. ExitCode: 137. Last few exceptions: ',
      'job run jr-1 FAILED (exit 137, SIGKILL)',
    ],
  ])('names %s from stateDetails, then quotes them', async (_label, stateDetails, lead) => {
    // Prepare
    emr.on(GetJobRunCommand).resolves({ ...meta, jobRun: { state: 'FAILED', stateDetails } as never });

    // Act
    const status = await backend().describe('jr-1');

    // Assess
    expect(status).toEqual({ state: 'FAILED', backendState: 'FAILED', detail: `${lead}\n${stateDetails}` });
  });

  it('says so when a failed run has no state details', async () => {
    emr.on(GetJobRunCommand).resolves({ ...meta, jobRun: { state: 'FAILED' } as never });

    const status = await backend().describe('jr-1');

    expect(status.detail).toBe('job run jr-1 FAILED: EMR Serverless gave no state details');
  });
});

describe('EmrServerlessBackend.cancel', () => {
  it('cancels a running job', async () => {
    emr.on(CancelJobRunCommand).resolves({ ...meta, applicationId: 'app-1', jobRunId: 'jr-1' });

    expect(await backend().cancel('jr-1')).toEqual({ cancelled: true, note: 'CancelJobRun accepted for jr-1' });
  });

  it.each([
    new ValidationException({
      message: 'Job run jr-1 is in a terminal state SUCCESS',
      $metadata: { httpStatusCode: 400 },
    }),
    new ConflictException({
      message: 'Job run jr-1 is in a terminal state CANCELLED',
      $metadata: { httpStatusCode: 409 },
    }),
  ])('reports a job that already ended (%s) instead of failing', async (error) => {
    emr.on(CancelJobRunCommand).rejects(error);

    const outcome = await backend().cancel('jr-1');

    expect(outcome.cancelled).toBe(false);
    expect(outcome.note).toMatch(new RegExp(`${error.name}: .*terminal state`));
  });

  it('reports throttling on cancel as SparkBackendUnavailableError, so the caller may retry', async () => {
    const error = unmodelled('ThrottlingException', 429, 'Rate exceeded');
    emr.on(CancelJobRunCommand).rejects(error);

    await expect(backend().cancel('jr-1')).rejects.toMatchObject({
      name: 'SparkBackendUnavailableError',
      cause: error,
    });
  });
});
