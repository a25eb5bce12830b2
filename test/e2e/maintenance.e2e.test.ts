/**
 * The synthesized "table maintenance" state machine executed locally on the real data plane: its
 * validation, the run slot it shares with the feature pipeline, and the maintenance job on the
 * standalone cluster through the pipeline's own Spark steps.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import { entered, execute, isolatedPipeline, uploadRecords } from './harness';

const MINUTES = 60_000;
/**
 * The tables the console asks maintenance for: the largest feature table, the smallest, and the
 * iterations. Every table on the cluster, row for row, is spark-jobs/tests/integration/
 * test_table_maintenance.py's; here the console's tables have to reach the job, and three tables
 * instead of thirteen take about 20 s off the job.
 */
const CHOSEN = ['iteration_parameters', 'molecules', 'vqe_iterations'];

async function readJson(uri: string): Promise<Record<string, any>> {
  const [, bucket, key] = /^s3a?:\/\/([^/]+)\/(.+)$/.exec(uri) ?? [];
  const s3 = new S3Client({
    endpoint: process.env.QP_S3_ENDPOINT,
    region: process.env.QP_S3_REGION,
    forcePathStyle: true,
  });
  const reply = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse((await reply.Body?.transformToString('utf-8')) ?? '');
}

describe('table maintenance state machine, executed locally', () => {
  it(
    'waits for the running pipeline execution, then compacts the chosen tables on the cluster without changing a row',
    async () => {
      // Prepare: a pipeline run (job 1 only) and, 300 ms later, maintenance from the console.
      const { pipeline, rawPrefix } = isolatedPipeline({
        context: { runSlot: { retryIntervalSeconds: 60, backoffRate: 1, maxAttempts: 50 } },
        retryOverridesMs: { AcquireRunSlot: 2000 },
        pollMs: 1000,
      });
      uploadRecords(rawPrefix, 4);

      // Act
      const [run, maintenance] = await Promise.all([
        execute(pipeline, { skipMlFeatures: true }, 'e2e-before-maintenance'),
        new Promise((resolve) => setTimeout(resolve, 300)).then(() =>
          execute(
            { host: pipeline.maintenance },
            { retainLast: 2, tables: CHOSEN, trigger: 'console' },
            'e2e-maintenance',
          ),
        ),
      ]);

      // Assess: maintenance held back until the pipeline run had ended (the shared run slot).
      expect(run.error).toBeUndefined();
      expect(maintenance.error).toBeUndefined();
      const pipelineDone = run.events.find((e) => e.type === 'ExecutionSucceeded')!.timestamp;
      expect(entered(maintenance, 'SubmitMaintenanceJob')[0].timestamp).toBeGreaterThanOrEqual(pipelineDone);
      expect(
        maintenance.events.some((e) => e.type === 'StateRetried' && 'state' in e && e.state.name === 'AcquireRunSlot'),
      ).toBe(true);
      const outcome = maintenance.output?.maintenance.outcome;
      expect(outcome).toMatchObject({ kind: 'maintenance', runId: 'e2e-maintenance', status: 'succeeded' });
      // The summary: the console's retainLast and tables reached the job, and each table has its figures.
      const summary = await readJson(outcome.summaryUri);
      expect(summary.details).toMatchObject({ retain_last: 2, retention_days: 90, target_file_size_bytes: 134217728 });
      expect(Object.keys(summary.details.tables).sort()).toEqual(CHOSEN);
      for (const table of CHOSEN) {
        const { before, after } = summary.details.tables[table];
        expect(after.records, table).toBe(before.records);
        expect(after.data_files, table).toBeLessThanOrEqual(before.data_files);
        expect(after.tags, table).toBe(1); // the batch's tag is young: kept
      }
      expect(summary.files.data_files_after).toBeLessThan(summary.files.data_files_before);
    },
    15 * MINUTES,
  );

  it(
    'refuses bad console input before taking the run slot, naming the field and the value',
    async () => {
      const { pipeline } = isolatedPipeline();

      const refused = await execute({ host: pipeline.maintenance }, { retentionDays: 0 }, 'e2e-bad-maintenance');

      expect(refused.error?.name).toBe(ERROR_NAMES.invalidInput);
      expect(refused.error?.message).toMatch(/retentionDays: expected a whole number of days from 1 to 3650, got 0/);
      expect(entered(refused, 'AcquireRunSlot')).toHaveLength(0);
    },
    2 * MINUTES,
  );
});
