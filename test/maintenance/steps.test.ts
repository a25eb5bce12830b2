/** Table maintenance's Lambda side: its input validation, its job's arguments, the shared run slot. */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { InvalidInputError } from '../../lambdas/core/errors';
import { Logger } from '../../lambdas/core/logger';
import { MetricEmitter } from '../../lambdas/core/metrics';
import type { MaintenanceOptions, RunContext } from '../../lambdas/feature-pipeline/contract';
import { buildJobSpec } from '../../lambdas/feature-pipeline/job-spec';
import { createAcquireRunSlot, type RunningExecutions } from '../../lambdas/feature-pipeline/steps/acquire-run-slot';
import { createReadSummary } from '../../lambdas/feature-pipeline/steps/read-summary';
import { createSubmitJob } from '../../lambdas/feature-pipeline/steps/submit-job';
import { validateMaintenanceInput } from '../../lambdas/maintenance/steps/validate-input';
import { pipelineSettings } from '../feature-pipeline/fixtures';

const quiet = new Logger('test', {}, 'ERROR', () => undefined);
const defaults: MaintenanceOptions = { retentionDays: 90, retainLast: 5, targetFileSizeBytes: 134217728 };
const validate = (input: unknown, executionName = 'maint-1') =>
  validateMaintenanceInput({ input, executionName, defaults });

describe('validateMaintenanceInput', () => {
  it('fills what the input leaves out with the deployed defaults', () => {
    expect(validate(undefined).maintenance).toEqual(defaults);
    expect(validate({ retentionDays: 30, tables: ['molecules'], trigger: 'console' })).toEqual({
      runId: 'maint-1',
      options: { trigger: 'console' },
      skipMlFeatures: true,
      maintenance: { ...defaults, retentionDays: 30, tables: ['molecules'] },
    });
  });

  it.each([
    [{ retentionDays: 0 }, 'retentionDays: expected a whole number of days from 1 to 3650, got 0'],
    [{ retainLast: 2.5 }, 'retainLast: expected a whole number from 1 to 1000, got 2.5'],
    [{ targetFileSizeBytes: 10 }, 'targetFileSizeBytes: expected a whole number of bytes from 1048576'],
    [{ tables: ['mole cules'] }, 'tables'],
    [{ retention: 30 }, 'retention'],
  ])('refuses %j, naming the field and value', (input, message) => {
    expect(() => validate(input)).toThrow(InvalidInputError);
    expect(() => validate(input)).toThrow(message);
  });
});

describe('the maintenance job', () => {
  const run: RunContext = {
    runId: 'maint-1',
    options: {},
    skipMlFeatures: true,
    maintenance: { ...defaults, tables: ['molecules', 'vqe_results'] },
  };

  it('runs table_maintenance.py with the run options as arguments', () => {
    const spec = buildJobSpec('maintenance', run, pipelineSettings, 'tok');

    expect(spec.entryPoint).toBe('table_maintenance.py');
    expect(spec.entryPointArguments).toEqual([
      ...['--run-id', 'maint-1', '--catalog', 'quantum_catalog', '--namespace', 'quantum_features'],
      ...['--summary-uri', 's3a://features/pipeline-runs'],
      ...['--retention-days', '90', '--retain-last', '5', '--target-file-size-bytes', '134217728'],
      ...['--tables', 'molecules,vqe_results'],
    ]);
  });

  it('is refused without options, and without a deployed timeout', async () => {
    expect(() => buildJobSpec('maintenance', { ...run, maintenance: undefined }, pipelineSettings, 't')).toThrow(
      /run.maintenance is missing/,
    );
    const submit = createSubmitJob({
      backend: {
        kind: 'standalone',
        submit: async () => ({ jobId: 'd' }),
        describe: async () => ({ state: 'RUNNING', backendState: 'RUNNING' }),
        cancel: async () => ({ cancelled: true, note: '' }),
      },
      settings: pipelineSettings,
      log: quiet,
    });
    await expect(submit({ kind: 'maintenance', run, clientToken: 't' })).rejects.toThrow(
      'PIPELINE_SETTINGS: jobTimeoutSeconds.maintenance is not set',
    );
    const withTimeout = createSubmitJob({
      backend: {
        kind: 'standalone',
        submit: async () => ({ jobId: 'd' }),
        describe: async () => ({ state: 'RUNNING', backendState: 'RUNNING' }),
        cancel: async () => ({ cancelled: true, note: '' }),
      },
      settings: { ...pipelineSettings, jobTimeoutSeconds: { ...pipelineSettings.jobTimeoutSeconds, maintenance: 99 } },
      log: quiet,
    });
    expect(await withTimeout({ kind: 'maintenance', run, clientToken: 't' })).toMatchObject({
      kind: 'maintenance',
      timeoutSeconds: 99,
    });
  });
});

describe('the shared run slot', () => {
  const running: Record<string, { executionArn: string; startDate: Date }[]> = {
    'arn:pipeline': [{ executionArn: 'arn:pipeline:run-1', startDate: new Date('2026-01-01T00:00:00Z') }],
    'arn:maintenance': [{ executionArn: 'arn:maintenance:m-1', startDate: new Date('2026-01-01T00:05:00Z') }],
  };
  const executions: RunningExecutions = { list: async (arn) => running[arn] ?? [] };
  const acquire = createAcquireRunSlot(executions, quiet);

  it('makes maintenance wait for an older pipeline run, and takes it once that is gone', async () => {
    const event = {
      stateMachineArn: 'arn:maintenance',
      executionArn: 'arn:maintenance:m-1',
      startTime: '2026-01-01T00:05:00Z',
      sharedWith: ['arn:pipeline'],
    };
    await expect(acquire(event)).rejects.toThrow(/arn:pipeline:run-1 .* is working on the tables/);
    // Without sharing, maintenance would only see its own executions, and run beside the pipeline.
    expect(await acquire({ ...event, sharedWith: undefined })).toEqual({
      holder: 'arn:maintenance:m-1',
      runningExecutions: 1,
    });
  });

  it('makes a younger pipeline run wait for a running maintenance', async () => {
    const younger = createAcquireRunSlot(
      {
        list: async (arn) =>
          arn === 'arn:pipeline'
            ? [{ executionArn: 'arn:pipeline:run-2', startDate: new Date('2026-01-01T00:10:00Z') }]
            : running['arn:maintenance'],
      },
      quiet,
    );
    await expect(
      younger({
        stateMachineArn: 'arn:pipeline',
        executionArn: 'arn:pipeline:run-2',
        startTime: '2026-01-01T00:10:00Z',
        sharedWith: ['arn:maintenance'],
      }),
    ).rejects.toThrow(/arn:maintenance:m-1/);
  });
});

describe('the maintenance run summary', () => {
  it("is read like the other jobs' and publishes each table's files, bytes and snapshots before and after", async () => {
    // Prepare: the summary the job writes (spark-jobs/quantum_pipeline/maintenance.py), one table.
    const measure = (files: number, bytes: number, snapshots: number) => ({
      snapshots,
      tags: 3,
      data_files: files,
      delete_files: 0,
      data_bytes: bytes,
      records: 6,
      stored_files: 40,
      stored_bytes: 90000,
    });
    const written = {
      job: 'table_maintenance',
      run_id: 'maint-1',
      batch_id: 'b',
      status: 'succeeded',
      started_at: 's',
      finished_at: 'f',
      duration_seconds: 30,
      resumed_batch: false,
      new_rows: {},
      tags: {},
      files: { data_files_before: 6, data_files_after: 1 },
      quarantined: [],
      quarantined_total: 0,
      details: { tables: { molecules: { before: measure(6, 9000, 3), after: measure(1, 8000, 5), actions: {} } } },
      findings: [],
    };
    const s3 = mockClient(S3Client);
    s3.on(GetObjectCommand).resolves({ Body: { transformToString: async () => JSON.stringify(written) } } as never);
    const lines: Record<string, unknown>[] = [];
    const metrics = new MetricEmitter({ stack: 'qp-test', sink: (line) => lines.push(JSON.parse(line)), log: quiet });
    const handle = {
      backend: 'standalone' as const,
      jobId: 'd',
      kind: 'maintenance' as const,
      runId: 'maint-1',
      submittedAt: '2026-01-01T00:00:00Z',
      timeoutSeconds: 60,
    };

    // Act
    const outcome = await createReadSummary({
      s3: new S3Client({ region: 'garage' }),
      settings: pipelineSettings,
      log: quiet,
      metrics,
    })({ job: handle });

    // Assess
    expect(outcome).toMatchObject({
      kind: 'maintenance',
      status: 'succeeded',
      summaryUri: 's3://features/pipeline-runs/table_maintenance/maint-1.json',
    });
    expect(lines.find((line) => 'Table' in line)).toMatchObject({
      Job: 'table_maintenance',
      Table: 'molecules',
      DataFilesBefore: 6,
      DataFilesAfter: 1,
      DataBytesBefore: 9000,
      DataBytesAfter: 8000,
      SnapshotsBefore: 3,
      SnapshotsAfter: 5,
    });
    s3.restore();
  });
});
