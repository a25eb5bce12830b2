/** The report step against the local data plane's Garage: reads what the jobs write, puts the page. */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import { createWriteBatchReport, createWriteReport } from '../../lambdas/report/steps/write-report';
import { RunStateStore } from '../../lambdas/vqe-batch/state-store';
import { REPORT_DATA } from './fixtures';

const s3 = new S3Client({
  endpoint: process.env.QP_S3_ENDPOINT,
  region: process.env.QP_S3_REGION,
  forcePathStyle: true,
});
const quiet = new Logger('write-report', {}, 'ERROR', () => undefined);

function summary(job: string, runId: string, batchId: string, extra: Record<string, unknown> = {}) {
  return {
    job,
    run_id: runId,
    batch_id: batchId,
    status: 'succeeded',
    started_at: '2026-12-02T02:00:00+00:00',
    finished_at: '2026-12-02T02:00:30+00:00',
    duration_seconds: 30,
    resumed_batch: false,
    new_rows: { molecules: 3 },
    tags: {},
    files: { listed: 4, in_batch: 4, ingested: 3, quarantined: 1 },
    quarantined: [{ key: 'experiments/experiment.vqe/bad.json', etag: 'e', reason: 'not JSON' }],
    quarantined_total: 1,
    details: {},
    ...extra,
  };
}

describe('write-report step on Garage', () => {
  it('renders the run from its summaries and report data and puts an HTML page under reports/', async () => {
    // Prepare: both summaries and the report data under a prefix of this test
    const prefix = `report-it-${randomBytes(4).toString('hex')}`;
    const put = (key: string, body: unknown) =>
      s3.send(new PutObjectCommand({ Bucket: 'features', Key: `${prefix}/${key}`, Body: JSON.stringify(body) }));
    await put('feature_processing/run-1.json', summary('feature_processing', 'run-1', 'b-1'));
    await put('ml_feature_processing/run-1.json', summary('ml_feature_processing', 'run-1', 'm-1'));
    await put('ml_feature_processing/run-1.report-data.json', REPORT_DATA);
    const step = createWriteReport({ s3, bucket: 'artifacts', summaryUri: `s3a://features/${prefix}`, log: quiet });

    // Act
    const result = await step({ runId: 'run-1' });
    const page = await s3.send(new GetObjectCommand({ Bucket: 'artifacts', Key: 'reports/run-1.html' }));
    const html = await page.Body!.transformToString('utf-8');

    // Assess
    expect(result).toEqual({ written: true, uri: 's3://artifacts/reports/run-1.html' });
    expect(page.ContentType).toBe('text/html; charset=utf-8');
    expect(html).toContain('Ingested 3 of 4 new file(s); 1 quarantined.');
    expect(html).toContain('experiments/experiment.vqe/bad.json');
    // Durations of the history come from the summaries, matched by batch id (b-1 and m-1 here).
    expect(html).toContain('data-chart="history-duration"');
  });

  it('does not fail the run when it cannot read: written false, with the error', async () => {
    // Prepare: a summary bucket that does not exist
    const step = createWriteReport({ s3, bucket: 'artifacts', summaryUri: 's3://no-such-bucket-qp/runs', log: quiet });

    // Act
    const result = await step({ runId: 'run-2' });

    // Assess
    expect(result).toMatchObject({ written: false, uri: 's3://artifacts/reports/run-2.html' });
    expect(result.error).toMatch(/NoSuchBucket|no-such-bucket-qp/);
  });

  it('refuses an event without a valid run id, naming the field', async () => {
    const step = createWriteReport({ s3, bucket: 'artifacts', summaryUri: 's3://features/x', log: quiet });

    await expect(step({ runId: '../etc' })).rejects.toThrow(/runId/);
  });
});

describe('write-batch-report step on Garage', () => {
  it('shows the lanes and durations from the run states, and the physics of the pipeline run after it', async () => {
    // Prepare: a batch of 3 cpu runs (2 done, 1 failed) in a state prefix of this test, then job 2's report data
    const id = randomBytes(4).toString('hex');
    const store = new RunStateStore(s3, 'raw-results', `report-it-${id}/`);
    const batchId = `20261202T010000Z-${id}`;
    await store.writeBatch({
      batchId,
      tier: 1,
      runTimeoutSeconds: 600,
      startedAt: '2026-12-02T01:00:00.000Z',
      input: {},
      lanes: { cpu: 3 },
    });
    const keys = ['a', 'b', 'c'].map((k) => `cpu/sto3g/H2/COBYLA/RealAmplitudes/hf/seed-${k}`);
    await store.writePlan(
      batchId,
      'cpu',
      keys.map((key) => ({ key }) as never),
    );
    for (const [i, key] of keys.entries()) {
      await store.writeRun({
        key,
        lane: 'cpu',
        batchId,
        status: i === 2 ? 'failed' : 'done',
        attempt: 1,
        startedAt: `2026-12-02T01:0${i}:00.000Z`,
        endedAt: `2026-12-02T01:0${i}:${10 + i * 10}.000Z`,
        args: [],
      });
    }
    const summaries = `report-it-${id}/runs`;
    await s3.send(
      new PutObjectCommand({
        Bucket: 'features',
        Key: `${summaries}/ml_feature_processing/batch-run.report-data.json`,
        Body: JSON.stringify(REPORT_DATA),
      }),
    );
    const step = createWriteBatchReport({
      s3,
      store,
      bucket: 'artifacts',
      summaryUri: `s3://features/${summaries}`,
      log: quiet,
    });

    // Act
    const result = await step({ batchId });
    const page = await s3.send(new GetObjectCommand({ Bucket: 'artifacts', Key: `reports/${batchId}.html` }));
    const html = await page.Body!.transformToString('utf-8');

    // Assess
    expect(result).toEqual({ written: true, uri: `s3://artifacts/reports/${batchId}.html` });
    expect(html).toContain('Finished: 2 of 3 run(s) done, 1 failed or timed out.');
    expect((html.match(/data-chart="run-durations"[\s\S]*?<\/svg>/)?.[0].match(/class="point"/g) ?? []).length).toBe(3);
    expect(html).toContain('job 2 of feature pipeline run run-1');

    // Act: the same batch on the failure path (the Catch's $.failure)
    const failed = await step({ batchId, failure: { Error: 'States.TaskFailed', Cause: 'lane gpu2 lost' } });
    const failedPage = await s3.send(new GetObjectCommand({ Bucket: 'artifacts', Key: `reports/${batchId}.html` }));

    // Assess
    expect(failed.written).toBe(true);
    expect(await failedPage.Body!.transformToString('utf-8')).toContain('The batch failed: States.TaskFailed.');
  });
});
