/**
 * The synthesized "feature processing" state machine executed locally on the real data plane:
 * real Lambda handler code, Spark standalone through its REST API, Garage, the Iceberg catalog.
 */
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import { openReport, pointsPerChart } from '../report/browser';
import {
  BASE_TABLES,
  driverState,
  entered,
  execute,
  exitedOutput,
  isolatedPipeline,
  ML_TABLES,
  uploadRecords,
} from './harness';

const MINUTES = 60_000;

const s3 = () =>
  new S3Client({ endpoint: process.env.QP_S3_ENDPOINT, region: process.env.QP_S3_REGION, forcePathStyle: true });

/** Where the e2e run keeps the screenshot of its report (docs/img/run-report.png is one of these). */
function screenshotPath(): string {
  const dir = join(process.env.QP_STATE_DIR ?? tmpdir(), 'test-reports');
  mkdirSync(dir, { recursive: true });
  return join(dir, 'run-report-e2e.png');
}

describe('feature processing state machine, executed locally', () => {
  it(
    'runs job 1 then job 2: rows land in all 11 tables and the summary event goes out; a second trigger waits its turn, then finds nothing new',
    async () => {
      // Prepare: one deployment, two triggers at once (the second one 300 ms later).
      const lambdaLines: string[] = [];
      const { pipeline, rawPrefix } = isolatedPipeline({
        lambdaLog: (line) => lambdaLines.push(line),
        context: { runSlot: { retryIntervalSeconds: 60, backoffRate: 1, maxAttempts: 50 } },
        // Up to 50 x 6 s = 5 minutes of waiting for the first execution, ample on a loaded CI machine.
        retryOverridesMs: { AcquireRunSlot: 6000 },
      });
      uploadRecords(rawPrefix, 6);
      // ... and one file that is not JSON: the run report's quarantine table must show it.
      await s3().send(
        new PutObjectCommand({
          Bucket: 'raw-results',
          Key: `${rawPrefix}/experiment.vqe/999999-broken.json`,
          Body: '{"vqe_result": ',
        }),
      );

      // Act
      const [run, second] = await Promise.all([
        execute(pipeline, {}, 'e2e-happy'),
        new Promise((resolve) => setTimeout(resolve, 300)).then(() =>
          execute(pipeline, { skipMlFeatures: true }, 'e2e-second'),
        ),
      ]);

      // Assess
      expect(run.error).toBeUndefined();
      const features = run.output?.features.outcome;
      const ml = run.output?.mlFeatures.outcome;
      expect(features.status).toBe('succeeded');
      for (const table of BASE_TABLES) expect(features.newRows[table], table).toBeGreaterThan(0);
      for (const table of ML_TABLES) expect(ml.newRows[table], table).toBeGreaterThan(0);
      expect(ml.newRows.ml_run_summary).toBe(6);
      expect(features.newRows.vqe_iterations).toBe(ml.newRows.ml_iteration_features);
      const summaryEvent = pipeline.bus.events.find((e) => e['detail-type'] === 'ML Features Updated');
      expect(summaryEvent?.detail).toMatchObject({ runId: 'e2e-happy', features: { status: 'succeeded' } });
      expect(pipeline.bus.deliveries.map((d) => d.message).join('\n')).toMatch(/run e2e-happy succeeded/);
      // The broken file is a data-quality finding: an event on the stack's bus, and the alert its rule sends.
      const finding = pipeline.bus.events.find((e) => e['detail-type'] === 'Data Quality Finding');
      expect(finding?.detail).toMatchObject({ runId: 'e2e-happy', gate: 'quarantined_files' });
      expect(pipeline.bus.deliveries.map((d) => d.message).join('\n')).toMatch(
        /Data-quality finding \(warning\) in feature pipeline run e2e-happy/,
      );
      // The steps' log lines carry the invocation's ids, as on Lambda.
      const submitted = lambdaLines
        .map((line) => JSON.parse(line))
        .filter((entry) => entry.message === 'job submitted');
      expect(submitted.find((entry) => entry.runId === 'e2e-happy')).toMatchObject({
        service: 'submit-job',
        requestId: expect.any(String),
        functionName: expect.stringMatching(/SubmitJob/),
        coldStart: expect.any(Boolean),
      });

      // ... and the event starts the R2 sync, which mirrors both ML tables (data and metadata).
      expect(pipeline.r2Sync?.triggered).toHaveLength(1);
      const sync = (await pipeline.r2Sync!.triggered[0].result) as {
        tables: Array<{ table: string; complete: boolean; copied: { objects: number } }>;
      };
      expect(sync.tables.map((t) => [t.table, t.complete])).toEqual([
        ['ml_iteration_features', true],
        ['ml_run_summary', true],
      ]);
      for (const table of sync.tables) expect(table.copied.objects, table.table).toBeGreaterThanOrEqual(3);
      expect(pipeline.bus.events.some((e) => e['detail-type'] === 'R2 Sync Completed')).toBe(true);

      // The second execution held back until the first had ended, then found every file done.
      expect(second.error).toBeUndefined();
      const firstDone = run.events.find((e) => e.type === 'ExecutionSucceeded')!.timestamp;
      expect(entered(second, 'SubmitFeatureJob')[0].timestamp).toBeGreaterThanOrEqual(firstDone);
      expect(
        second.events.some((e) => e.type === 'StateRetried' && 'state' in e && e.state.name === 'AcquireRunSlot'),
      ).toBe(true);
      expect(second.output?.features.outcome).toMatchObject({
        status: 'no_changes',
        newRows: { processing_metadata: 1 },
      });
      expect(Object.keys(second.output?.features.outcome.newRows)).toEqual(['processing_metadata']);

      // The run report: written at the end of the run, named in the event, and sound in a browser.
      expect(run.output?.report).toEqual({ written: true, uri: 's3://artifacts/reports/e2e-happy.html' });
      expect(summaryEvent?.detail).toMatchObject({ report: { uri: 's3://artifacts/reports/e2e-happy.html' } });
      const page = await s3().send(new GetObjectCommand({ Bucket: 'artifacts', Key: 'reports/e2e-happy.html' }));
      expect(page.ContentType).toMatch(/^text\/html/);
      const report = await openReport(await page.Body!.transformToString('utf-8'));
      try {
        await report.page.screenshot({ path: screenshotPath(), fullPage: true });
        const verdict = await report.page.$eval('#verdict', (e) => e.textContent);
        const quarantine = await report.page.$$eval('#quarantine tbody tr', (rows) =>
          rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent ?? '')),
        );
        const points = await pointsPerChart(report.page);
        const groups = await report.page.$$eval('#energy-error-table tbody tr', (rows) => rows.length);

        expect(verdict).toBe('Ingested 6 of 7 new file(s); 1 quarantined.');
        expect(quarantine).toHaveLength(1);
        expect(quarantine[0][0]).toMatch(/999999-broken\.json$/);
        expect(quarantine[0][1]).not.toBe('');
        // Every chart has points: the sampled curves, one bar per group, this run in the history.
        const convergence = Object.entries(points).filter(([id]) => id.startsWith('convergence-'));
        expect(convergence.length).toBeGreaterThan(0);
        for (const [id, n] of Object.entries(points)) expect(n, id).toBeGreaterThan(0);
        expect(points['energy-error']).toBe(groups);
        expect(points['history-rows']).toBeGreaterThanOrEqual(2);
        expect(points['history-duration']).toBeGreaterThanOrEqual(2);
        expect(report.problems).toEqual([]);
        expect(report.requests).toEqual([]);
      } finally {
        await report.browser.close();
      }

      // A reprocess of the topic's files from the console: job 1 replaces their rows, adds none.
      const prefix = `${rawPrefix}/experiment.vqe/`;
      const reprocess = await execute(pipeline, { reprocess: { prefix }, skipMlFeatures: true }, 'e2e-reprocess');
      expect(reprocess.error).toBeUndefined();
      const replaced = reprocess.output?.features.outcome;
      expect(replaced.reprocess).toEqual({ status: 'done', prefix, since: null, objects: 7, experiments: 6 });
      expect(replaced.newRows.vqe_results).toBe(6);
      expect(replaced.tags.vqe_results).toMatch(/^v_reproc_/);

      // Job 2 alone, rebuilding the ML tables from the base rows: job 1 is not submitted at all.
      const mlOnly = await execute(pipeline, { mlOnly: true, fullRefresh: true }, 'e2e-ml-only');
      expect(mlOnly.error).toBeUndefined();
      expect(entered(mlOnly, 'FeaturesSkipped')).toHaveLength(1);
      expect(entered(mlOnly, 'SubmitFeatureJob')).toHaveLength(0);
      expect(mlOnly.output?.features.outcome).toBeNull();
      expect(mlOnly.output?.mlFeatures.outcome).toMatchObject({
        status: 'succeeded',
        newRows: { ml_run_summary: 6, ml_iteration_features: ml.newRows.ml_iteration_features },
      });
    },
    15 * MINUTES,
  );

  it(
    'fails fast on invalid input, naming the fields, before any job is submitted',
    async () => {
      const { pipeline } = isolatedPipeline();

      const run = await execute(pipeline, { maxFiles: 0, fullRefesh: true }, 'e2e-invalid');

      expect(run.error?.name).toBe(ERROR_NAMES.invalidInput);
      expect(run.error?.message).toMatch(/maxFiles/);
      expect(run.error?.message).toMatch(/unknown field "fullRefesh" \(did you mean "fullRefresh"\?\)/);
      expect(entered(run, 'SubmitFeatureJob')).toHaveLength(0);
      expect(pipeline.bus.deliveries.some((d) => /e2e-invalid ended FAILED/.test(d.message))).toBe(true);
    },
    2 * MINUTES,
  );

  it(
    'retries a failing Spark job as the policy says, then takes the alert path',
    async () => {
      // Prepare: a deployment whose Spark conf drops Iceberg's SQL extensions, so job 1 fails at
      // its session check, on every attempt (a failure that costs no table work); 1 retry.
      const { pipeline, rawPrefix } = isolatedPipeline({
        context: {
          jobs: {
            features: {
              retries: 1,
              retryIntervalSeconds: 60,
              backoffRate: 2,
              maxRetryDelaySeconds: 600,
              timeoutSeconds: 900,
              slaSeconds: 900,
            },
          },
        },
        settings: { sparkConf: { 'spark.sql.extensions': '' } },
        retryOverridesMs: { FeatureJob: 0 },
      });
      uploadRecords(rawPrefix, 2);

      const run = await execute(pipeline, { skipMlFeatures: true }, 'e2e-failing');

      expect(run.error?.name).toBe(ERROR_NAMES.jobFailed);
      // The cause quotes the driver's traceback, which names the missing setting.
      expect(run.error?.message).toMatch(/MissingIcebergExtensions: spark\.sql\.extensions must include/);
      expect(entered(run, 'SubmitFeatureJob')).toHaveLength(2); // first attempt + 1 retry
      expect(
        run.events.filter((e) => e.type === 'StateRetried' && 'state' in e && e.state.name === 'FeatureJob'),
      ).toHaveLength(1);
      expect(entered(run, 'PipelineFailed')).toHaveLength(1);
      const mail = pipeline.bus.deliveries.find((d) => /e2e-failing ended FAILED: SparkJobFailedError/.test(d.message));
      // The mail names the page the failure path wrote, and that page exists.
      expect(mail?.message).toMatch(/ \| Page \(when FAILED\): s3:\/\/artifacts\/reports\/e2e-failing\.html"?$/);
      expect(
        run.events.some((e) => e.type === 'StateEntered' && 'state' in e && e.state.name === 'WriteFailureReport'),
      ).toBe(true);
      const page = await s3().send(new GetObjectCommand({ Bucket: 'artifacts', Key: 'reports/e2e-failing.html' }));
      expect(await page.Body!.transformToString('utf-8')).toContain('SparkJobFailedError');
    },
    10 * MINUTES,
  );

  it(
    'cancels a job that runs past its timeout and fails with SparkJobTimeoutError',
    async () => {
      const { pipeline, rawPrefix } = isolatedPipeline({
        context: {
          jobs: {
            features: {
              retries: 3,
              retryIntervalSeconds: 60,
              backoffRate: 2,
              maxRetryDelaySeconds: 600,
              timeoutSeconds: 6,
              slaSeconds: 900,
            },
          },
        },
      });
      uploadRecords(rawPrefix, 2);

      const run = await execute(pipeline, {}, 'e2e-timeout');

      expect(run.error?.name).toBe(ERROR_NAMES.jobTimeout);
      expect(entered(run, 'SubmitFeatureJob')).toHaveLength(1); // a timeout is not retried
      // 6 s is far less than a driver needs to start, so the job is still running: it is killed.
      const [cancel] = exitedOutput(run, 'CancelFeatureJob');
      expect(cancel.cancel.cancelled).toBe(true);
      const jobId = exitedOutput(run, 'SubmitFeatureJob')[0].job.jobId;
      await expect.poll(() => driverState(jobId), { timeout: 60_000, interval: 2000 }).toBe('KILLED');
    },
    5 * MINUTES,
  );
});
