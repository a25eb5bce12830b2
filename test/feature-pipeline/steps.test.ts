/** The step cores with explicit dependencies: a fake backend, a fixed clock, mocked AWS clients. */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ListExecutionsCommand, SFNClient } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import { MetricEmitter } from '../../lambdas/core/metrics';
import type { BackendJobStatus, SparkBackend } from '../../lambdas/feature-pipeline/backends/types';
import type { JobHandle, JobSpec, RunContext } from '../../lambdas/feature-pipeline/contract';
import {
  createAcquireRunSlot,
  decideRunSlot,
  stepFunctionsExecutions,
} from '../../lambdas/feature-pipeline/steps/acquire-run-slot';
import { createCancelJob } from '../../lambdas/feature-pipeline/steps/cancel-job';
import { createJobStatus } from '../../lambdas/feature-pipeline/steps/job-status';
import { createReadSummary, splitS3Uri } from '../../lambdas/feature-pipeline/steps/read-summary';
import { createSubmitJob } from '../../lambdas/feature-pipeline/steps/submit-job';

import { pipelineSettings } from './fixtures';

const quiet = new Logger('test', {}, 'ERROR', () => undefined);
const settings = pipelineSettings;
const run: RunContext = { runId: 'run-1', options: {}, skipMlFeatures: false };

class FakeBackend implements SparkBackend {
  readonly kind = 'standalone' as const;
  submitted: JobSpec[] = [];
  cancelled: string[] = [];
  constructor(private readonly status: BackendJobStatus = { state: 'RUNNING', backendState: 'RUNNING' }) {}
  async submit(spec: JobSpec) {
    this.submitted.push(spec);
    return { jobId: 'driver-1' };
  }
  async describe() {
    return this.status;
  }
  async cancel(jobId: string) {
    this.cancelled.push(jobId);
    return { cancelled: true, note: 'killed' };
  }
}

function handle(overrides: Partial<JobHandle> = {}): JobHandle {
  return {
    backend: 'standalone',
    jobId: 'driver-1',
    kind: 'features',
    runId: 'run-1',
    submittedAt: '2026-01-01T00:00:00.000Z',
    timeoutSeconds: 60,
    ...overrides,
  };
}
const at = (iso: string) => () => new Date(iso);
/** An emitter of stack "qp-test" whose EMF lines land, parsed, in `lines`. */
function metricLines() {
  const lines: Record<string, unknown>[] = [];
  const metrics = new MetricEmitter({ stack: 'qp-test', sink: (line) => lines.push(JSON.parse(line)), log: quiet });
  return { metrics, lines };
}

describe('submit-job', () => {
  it('submits the job spec and returns the handle to poll with', async () => {
    const backend = new FakeBackend();
    const submit = createSubmitJob({ backend, settings, now: at('2026-01-01T00:00:00Z'), log: quiet });

    const result = await submit({ kind: 'ml-features', run, clientToken: 'tok' });

    expect(result).toEqual({
      backend: 'standalone',
      jobId: 'driver-1',
      kind: 'ml-features',
      runId: 'run-1',
      submittedAt: '2026-01-01T00:00:00.000Z',
      timeoutSeconds: 3600,
    });
    expect(backend.submitted[0]).toMatchObject({
      entryPoint: 'ml_feature_processing.py',
      clientToken: 'tok',
      pyFiles: ['quantum_pipeline.zip'],
    });
  });

  it('refuses an event that breaks the contract, naming the field', async () => {
    const submit = createSubmitJob({ backend: new FakeBackend(), settings, log: quiet });

    await expect(submit({ kind: 'features', run, clientToken: '' })).rejects.toThrow(/clientToken/);
    await expect(submit({ kind: 'spark', run, clientToken: 't' })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/kind/),
    });
  });
});

describe('job-status', () => {
  it('reports the state, the elapsed time and always a detail', async () => {
    const status = createJobStatus({ backend: new FakeBackend(), now: at('2026-01-01T00:00:30Z'), log: quiet });

    expect(await status({ job: handle() })).toEqual({
      state: 'RUNNING',
      backendState: 'RUNNING',
      elapsedSeconds: 30,
      detail: 'standalone job RUNNING',
    });
  });

  it('cancels a job past its timeout, then fails with SparkJobTimeoutError naming it', async () => {
    const backend = new FakeBackend();
    const status = createJobStatus({ backend, now: at('2026-01-01T00:01:01Z'), log: quiet });

    await expect(status({ job: handle() })).rejects.toMatchObject({
      name: 'SparkJobTimeoutError',
      message: expect.stringMatching(/features job driver-1 still RUNNING after 61s \(limit 60s\)/),
    });
    expect(backend.cancelled).toEqual(['driver-1']);
  });

  it('lets an unreachable backend during the timeout cancel go up as SparkBackendUnavailableError, so the poll is retried', async () => {
    const backend = Object.assign(new FakeBackend(), {
      cancel: async () => {
        throw Object.assign(new Error('down'), { name: 'SparkBackendUnavailableError' });
      },
    });
    const status = createJobStatus({ backend, now: at('2026-01-01T00:01:01Z'), log: quiet });

    await expect(status({ job: handle() })).rejects.toMatchObject({ name: 'SparkBackendUnavailableError' });
  });

  it('refuses a handle whose submittedAt is not a time', async () => {
    const status = createJobStatus({ backend: new FakeBackend(), log: quiet });

    await expect(status({ job: handle({ submittedAt: 'yesterday' }) })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/job\.submittedAt: .*got "yesterday"/),
    });
  });

  it('does not time out a job that already ended', async () => {
    const backend = new FakeBackend({ state: 'FAILED', backendState: 'FAILED', detail: 'Traceback ...' });
    const status = createJobStatus({ backend, now: at('2026-01-02T00:00:00Z'), log: quiet });

    expect(await status({ job: handle() })).toMatchObject({ state: 'FAILED', detail: 'Traceback ...' });
    expect(backend.cancelled).toEqual([]);
  });

  it('publishes JobElapsedSeconds of the job at every poll, the timed-out one included', async () => {
    // Prepare
    const { metrics, lines } = metricLines();
    const running = createJobStatus({
      backend: new FakeBackend(),
      now: at('2026-01-01T00:00:30Z'),
      log: quiet,
      metrics,
    });
    const late = createJobStatus({ backend: new FakeBackend(), now: at('2026-01-01T00:01:01Z'), log: quiet, metrics });

    // Act
    await running({ job: handle({ kind: 'ml-features' }) });
    await late({ job: handle() }).catch(() => undefined);

    // Assess
    expect(lines).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: 'QuantumPipeline',
              Dimensions: [['Stack', 'Job']],
              Metrics: [{ Name: 'JobElapsedSeconds', Unit: 'Seconds' }],
            },
          ],
        },
        RunId: 'run-1',
        Stack: 'qp-test',
        Job: 'ml_feature_processing',
        JobElapsedSeconds: 30,
      },
      expect.objectContaining({ Job: 'feature_processing', JobElapsedSeconds: 61 }),
    ]);
  });
});

describe('job-status: a long cause', () => {
  it('keeps the lead line (what ended the job) and the end of a detail longer than 4,000 characters', async () => {
    // Prepare: a backend whose detail is a lead line and a long log.
    const lead = 'job run jr-1 FAILED (exit 137, SIGKILL)';
    const detail = `${lead}\n${'x'.repeat(5000)}\nthe last line`;
    const backend = new FakeBackend({ state: 'FAILED', backendState: 'FAILED', detail });
    const status = createJobStatus({ backend, now: at('2026-01-01T00:00:30Z'), log: quiet });

    // Act
    const result = await status({ job: handle() });

    // Assess
    expect(result.detail).toMatch(/^job run jr-1 FAILED \(exit 137, SIGKILL\)\n\.\.\.\nx+\nthe last line$/);
    expect(result.detail?.length).toBe(4000);
  });
});

describe('cancel-job', () => {
  it('cancels the job of the handle', async () => {
    const backend = new FakeBackend();

    expect(await createCancelJob({ backend, log: quiet })({ job: handle() })).toEqual({
      cancelled: true,
      note: 'killed',
      jobId: 'driver-1',
    });
  });

  it('never throws on the failure path: no handle, or an unreachable backend', async () => {
    const broken = Object.assign(new FakeBackend(), {
      cancel: async () => {
        throw Object.assign(new Error('down'), { name: 'SparkBackendUnavailableError' });
      },
    });

    expect(await createCancelJob({ backend: new FakeBackend(), log: quiet })({})).toEqual({
      cancelled: false,
      note: 'no job was submitted',
    });
    expect(await createCancelJob({ backend: broken, log: quiet })({ job: handle() })).toMatchObject({
      cancelled: false,
      note: expect.stringMatching(/SparkBackendUnavailableError: down/),
    });
  });
});

describe('acquire-run-slot', () => {
  const me = { executionArn: 'arn:b', startTime: '2026-01-01T00:00:10Z' };

  it('gives the slot to the oldest running execution', () => {
    expect(decideRunSlot(me, [{ executionArn: 'arn:b', startDate: new Date('2026-01-01T00:00:10Z') }]).holder).toBe(
      'arn:b',
    );
    expect(() =>
      decideRunSlot(me, [
        { executionArn: 'arn:b', startDate: new Date('2026-01-01T00:00:10Z') },
        { executionArn: 'arn:a', startDate: new Date('2026-01-01T00:00:05Z') },
      ]),
    ).toThrow(
      expect.objectContaining({
        name: 'PipelineBusyError',
        message: expect.stringMatching(/arn:a .* is working on the tables/),
      }),
    );
  });

  it('breaks a tie of start times by ARN, so both contenders agree', () => {
    const same = new Date('2026-01-01T00:00:10Z');
    const running = [
      { executionArn: 'arn:b', startDate: same },
      { executionArn: 'arn:a', startDate: same },
    ];

    expect(() => decideRunSlot(me, running)).toThrow(/arn:a/);
    expect(decideRunSlot({ executionArn: 'arn:a', startTime: me.startTime }, running).holder).toBe('arn:a');
  });

  it('counts itself even when the listing does not show it yet', () => {
    expect(decideRunSlot(me, [])).toEqual({ holder: 'arn:b', runningExecutions: 1 });
    expect(decideRunSlot(me, [{ executionArn: 'arn:c', startDate: new Date('2026-01-01T00:00:20Z') }])).toEqual({
      holder: 'arn:b',
      runningExecutions: 2,
    });
    expect(() => decideRunSlot(me, [{ executionArn: 'arn:a', startDate: new Date('2026-01-01T00:00:01Z') }])).toThrow(
      /arn:a/,
    );
  });

  it('refuses a start time that is not a time (it would sort arbitrarily)', async () => {
    const acquire = createAcquireRunSlot({ list: async () => [] }, quiet);

    await expect(
      acquire({ stateMachineArn: 'arn:sm', executionArn: 'arn:b', startTime: 'soon' }),
    ).rejects.toMatchObject({ name: 'InvalidInputError', message: expect.stringMatching(/startTime: .*got "soon"/) });
  });

  it("takes the slot through an in-memory list of running executions (the local runner's)", async () => {
    const acquire = createAcquireRunSlot(
      { list: async () => [{ executionArn: 'arn:b', startDate: new Date(me.startTime) }] },
      quiet,
    );

    expect(await acquire({ stateMachineArn: 'arn:sm', ...me })).toEqual({ holder: 'arn:b', runningExecutions: 1 });
  });

  it('refuses an event without the execution context, naming the field', async () => {
    const acquire = createAcquireRunSlot({ list: async () => [] }, quiet);

    await expect(acquire({ stateMachineArn: 'arn:sm', executionArn: 'arn:b' })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/startTime/),
    });
  });

  it('lists RUNNING executions of its state machine page by page', async () => {
    const sfn = mockClient(SFNClient);
    sfn.on(ListExecutionsCommand, { nextToken: undefined }).resolves({
      executions: [
        {
          executionArn: 'arn:b',
          stateMachineArn: 'arn:sm',
          name: 'b',
          status: 'RUNNING',
          startDate: new Date('2026-01-01T00:00:10Z'),
        },
      ],
      nextToken: 'page-2',
    });
    sfn.on(ListExecutionsCommand, { nextToken: 'page-2' }).resolves({
      executions: [
        {
          executionArn: 'arn:a',
          stateMachineArn: 'arn:sm',
          name: 'a',
          status: 'RUNNING',
          startDate: new Date('2026-01-01T00:00:01Z'),
        },
      ],
    });
    const acquire = createAcquireRunSlot(stepFunctionsExecutions(new SFNClient({ region: 'eu-west-1' })), quiet);

    await expect(
      acquire({ stateMachineArn: 'arn:sm', executionArn: 'arn:b', startTime: me.startTime }),
    ).rejects.toMatchObject({ name: 'PipelineBusyError' });
    expect(sfn.commandCalls(ListExecutionsCommand).map((c) => c.args[0].input)).toEqual([
      { stateMachineArn: 'arn:sm', statusFilter: 'RUNNING', nextToken: undefined },
      { stateMachineArn: 'arn:sm', statusFilter: 'RUNNING', nextToken: 'page-2' },
    ]);
    sfn.restore();
  });
});

describe('read-summary', () => {
  const s3 = mockClient(S3Client);
  beforeEach(() => s3.reset());

  function summary(overrides: Record<string, unknown> = {}) {
    return {
      job: 'feature_processing',
      run_id: 'run-1',
      batch_id: 'b-1',
      status: 'succeeded',
      started_at: 's',
      finished_at: 'f',
      duration_seconds: 12.5,
      resumed_batch: false,
      new_rows: { molecules: 3 },
      tags: { molecules: 'v_b1' },
      files: { listed: 30 },
      quarantined: Array.from({ length: 25 }, (_, i) => ({ key: `k${i}`, etag: 'e', reason: 'r' })),
      quarantined_total: 25,
      details: {},
      ...overrides,
    };
  }
  /** GetObject's Body as the SDK gives it in Node (a stream with transformToString). */
  function body(text: string) {
    return { Body: { transformToString: async () => text } } as never;
  }
  const read = () => createReadSummary({ s3: new S3Client({ region: 'garage' }), settings, log: quiet });

  it('reads the summary the job wrote and cuts the quarantine list to 20', async () => {
    s3.on(GetObjectCommand).resolves(body(JSON.stringify(summary())));

    const outcome = await read()({ job: handle() });

    expect(s3.commandCalls(GetObjectCommand)[0].args[0].input).toEqual({
      Bucket: 'features',
      Key: 'pipeline-runs/feature_processing/run-1.json',
    });
    expect(outcome).toMatchObject({
      kind: 'features',
      status: 'succeeded',
      batchId: 'b-1',
      newRows: { molecules: 3 },
      quarantinedTotal: 25,
    });
    expect(outcome.quarantined).toHaveLength(20);
    expect(outcome.summaryUri).toBe('s3://features/pipeline-runs/feature_processing/run-1.json');
  });

  it('carries what became of a reprocess, and refuses a reprocess record it cannot read', async () => {
    const reprocess = { status: 'deferred', prefix: null, since: null, reason: 'batch b-0 was interrupted' };
    s3.on(GetObjectCommand).resolves(body(JSON.stringify(summary({ details: { reprocess } }))));

    expect((await read()({ job: handle() })).reprocess).toEqual(reprocess);

    s3.on(GetObjectCommand).resolves(body(JSON.stringify(summary({ details: { reprocess: { status: 'half' } } }))));
    await expect(read()({ job: handle() })).rejects.toMatchObject({
      name: 'RunSummaryError',
      message: expect.stringMatching(/details\.reprocess status/),
    });
  });

  it('leaves reprocess out of the outcome of a run that was not one', async () => {
    s3.on(GetObjectCommand).resolves(body(JSON.stringify(summary())));

    expect(await read()({ job: handle() })).not.toHaveProperty('reprocess');
  });

  it.each([
    [
      'a missing summary',
      () => s3.on(GetObjectCommand).rejects(Object.assign(new Error('nope'), { name: 'NoSuchKey' })),
      /wrote no run summary at s3:\/\/features\/pipeline-runs/,
    ],
    ['a summary that is not JSON', () => s3.on(GetObjectCommand).resolves(body('{"job": ')), /is not JSON/],
    [
      'a summary that breaks the contract',
      () => s3.on(GetObjectCommand).resolves(body(JSON.stringify(summary({ status: 'maybe' })))),
      /breaks the contract: status/,
    ],
    [
      'the summary of another run',
      () => s3.on(GetObjectCommand).resolves(body(JSON.stringify(summary({ run_id: 'run-0' })))),
      /belongs to run run-0, not run-1/,
    ],
  ])('refuses %s with RunSummaryError', async (_label, arrange, message) => {
    arrange();

    await expect(read()({ job: handle() })).rejects.toMatchObject({
      name: 'RunSummaryError',
      message: expect.stringMatching(message),
    });
  });

  it('publishes the duration, new rows per table, file counts and duplicates of the summary as EMF lines', async () => {
    // Prepare
    const { metrics, lines } = metricLines();
    const files = { listed: 112, in_batch: 100, ingested: 98, quarantined: 2 };
    s3.on(GetObjectCommand).resolves(
      body(JSON.stringify(summary({ files, details: { duplicate_experiments: 1, listing_unchanged: false } }))),
    );

    // Act
    await createReadSummary({ s3: new S3Client({ region: 'garage' }), settings, log: quiet, metrics })({
      job: handle(),
    });

    // Assess
    const perJob = lines.find((line) => !('Table' in line));
    expect(perJob).toMatchObject({
      RunId: 'run-1',
      Stack: 'qp-test',
      Job: 'feature_processing',
      DurationSeconds: 12.5,
      FilesListed: 112,
      FilesIngested: 98,
      FilesQuarantined: 2,
      DuplicateExperiments: 1,
    });
    expect((perJob?._aws as { CloudWatchMetrics: unknown[] } | undefined)?.CloudWatchMetrics).toEqual([
      {
        Namespace: 'QuantumPipeline',
        Dimensions: [['Stack', 'Job']],
        Metrics: [
          { Name: 'DurationSeconds', Unit: 'Seconds' },
          { Name: 'FilesListed', Unit: 'Count' },
          { Name: 'FilesIngested', Unit: 'Count' },
          { Name: 'FilesQuarantined', Unit: 'Count' },
          { Name: 'DuplicateExperiments', Unit: 'Count' },
        ],
      },
    ]);
    expect(lines.filter((line) => 'Table' in line)).toEqual([
      expect.objectContaining({
        Table: 'molecules',
        NewRows: 3,
        _aws: expect.objectContaining({
          CloudWatchMetrics: [expect.objectContaining({ Dimensions: [['Stack', 'Job', 'Table']] })],
        }),
      }),
    ]);
  });

  it('leaves out the counts a summary lacks (job 2: no files, no duplicates; a resumed batch: listed null)', async () => {
    // Prepare
    const { metrics, lines } = metricLines();
    s3.on(GetObjectCommand).resolves(
      body(JSON.stringify(summary({ job: 'ml_feature_processing', files: { listed: null }, details: {} }))),
    );

    // Act
    await createReadSummary({ s3: new S3Client({ region: 'garage' }), settings, log: quiet, metrics })({
      job: handle({ kind: 'ml-features' }),
    });

    // Assess
    const perJob = lines.find((line) => !('Table' in line));
    expect(perJob).toMatchObject({ Job: 'ml_feature_processing', DurationSeconds: 12.5 });
    for (const name of ['FilesListed', 'FilesIngested', 'FilesQuarantined', 'DuplicateExperiments'])
      expect(perJob).not.toHaveProperty(name);
  });

  it('splits s3 and s3a URIs', () => {
    expect(splitS3Uri('s3a://features/pipeline-runs/')).toEqual({ bucket: 'features', prefix: 'pipeline-runs' });
    expect(splitS3Uri('s3://b')).toEqual({ bucket: 'b', prefix: '' });
    expect(() => splitS3Uri('file:///tmp')).toThrow(/not an s3:\/\/ or s3a:\/\/ URI/);
  });
});
