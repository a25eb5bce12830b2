/**
 * The synthesized "table maintenance" state machine executed locally on the real data plane: its
 * validation, the run slot it shares with the feature pipeline, and the maintenance job on the
 * standalone cluster through the pipeline's own Spark steps.
 */
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import { BASE_TABLES, entered, execute, isolatedPipeline, uploadRecords } from './harness';

const MINUTES = 60_000;

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
    'waits for the running pipeline execution, then compacts every table on the cluster without changing a row',
    async () => {
      // Prepare: a pipeline run (job 1 only) and, 300 ms later, maintenance from the console.
      const { pipeline, rawPrefix } = isolatedPipeline({
        context: { runSlot: { retryIntervalSeconds: 60, backoffRate: 1, maxAttempts: 50 } },
        retryOverridesMs: { AcquireRunSlot: 3000 },
      });
      uploadRecords(rawPrefix, 4);

      // Act
      const [run, maintenance] = await Promise.all([
        execute(pipeline, { skipMlFeatures: true }, 'e2e-before-maintenance'),
        new Promise((resolve) => setTimeout(resolve, 300)).then(() =>
          execute({ host: pipeline.maintenance }, { retainLast: 2, trigger: 'console' }, 'e2e-maintenance'),
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
      // The summary: the console's retainLast reached the job, and each table has its figures.
      const summary = await readJson(outcome.summaryUri);
      expect(summary.details).toMatchObject({ retain_last: 2, retention_days: 90, target_file_size_bytes: 134217728 });
      for (const table of BASE_TABLES) {
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
