/** The r2-sync step cores and their environment, at the SDK boundary (S3 mocked; the real stores are in the integration tests). */
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import { readSyncSettings, withSyncClients } from '../../lambdas/r2-sync/settings';
import { createSyncHealthCheck } from '../../lambdas/r2-sync/steps/health-check';
import { createSyncTable } from '../../lambdas/r2-sync/steps/sync-table';
import { syncSettings } from './fixtures';

const settings = syncSettings;
const quiet = new Logger('test', {}, 'ERROR');
const s3 = mockClient(S3Client);
afterEach(() => s3.reset());
const clients = () => ({
  source: new S3Client({ region: 'eu-west-1' }),
  destination: new S3Client({ region: 'auto' }),
});
const run = { runId: 'sync-1', tables: ['ml_run_summary'], dryRun: false, trigger: 'console' };
const context = { getRemainingTimeInMillis: () => 600_000 };

describe('sync-health-check input', () => {
  const check = createSyncHealthCheck({ settings, clients: clients(), log: quiet });

  it.each([
    [{ tables: 'ml_run_summary' }, /^tables: .*got "ml_run_summary"/],
    [{ dryrun: true }, /unknown field "dryrun" \(did you mean "dryRun"\?\)/],
    [{ tables: [] }, /^tables: .*got \[\]/],
    [{ trigger: '' }, /^trigger: .*got ""/],
  ])('refuses %j before touching any store', async (input, message) => {
    await expect(check({ input, executionName: 'x' })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(message),
    });
    expect(s3.calls()).toHaveLength(0);
  });

  it('refuses a table this deployment does not sync', async () => {
    const narrow = createSyncHealthCheck({
      settings: { ...settings, tables: ['ml_run_summary'] },
      clients: clients(),
      log: quiet,
    });

    await expect(narrow({ input: { tables: ['ml_iteration_features'] }, executionName: 'x' })).rejects.toThrow(
      'tables: ["ml_iteration_features"] is not synced by this deployment (it syncs ml_run_summary)',
    );
  });

  it('refuses an event whose execution name is not text, naming the step, the field and the value, before touching any store', async () => {
    await expect(check({ input: {}, executionName: 42 })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/^health-check event: executionName: .*got 42$/),
    });
    expect(s3.calls()).toHaveLength(0);
  });

  it('refuses an event without the execution name', async () => {
    await expect(check({ input: {} })).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/^health-check event: executionName/),
    });
  });
});

describe('sync-table', () => {
  it('throws SyncIncompleteError naming the object that failed, with deletions held back', async () => {
    s3.on(ListObjectsV2Command, { Bucket: 'features' }).resolves({
      Contents: [{ Key: 'warehouse/ns/ml_run_summary/data/a.parquet', Size: 3, ETag: '"e1"' }],
    });
    s3.on(ListObjectsV2Command, { Bucket: 'qp-data' }).resolves({
      Contents: [{ Key: 'features/ml_run_summary/data/old.parquet', Size: 1, ETag: '"e0"' }],
    });
    s3.on(GetObjectCommand).rejects(Object.assign(new Error('slow down'), { name: 'SlowDown' }));
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });

    await expect(sync({ run, table: 'ml_run_summary' }, context)).rejects.toMatchObject({
      name: 'SyncIncompleteError',
      message:
        'ml_run_summary: 1 object(s) failed (data/a.parquet: SlowDown: slow down); 0 copied, deletions held back; the next attempt resumes',
    });
  });

  it('adds its counts to those of earlier invocations and reports the latest listing as unchanged', async () => {
    s3.on(ListObjectsV2Command).resolves({ Contents: [] });
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });
    const earlier = {
      table: 'ml_run_summary' as const,
      complete: false,
      invocations: 2,
      copied: { objects: 5, bytes: 50 },
      deleted: { objects: 1, bytes: 1 },
      unchanged: { objects: 9, bytes: 90 },
      checked: 3,
      pending: 4,
      durationMs: 1000,
    };

    const progress = await sync({ run, table: 'ml_run_summary', progress: earlier }, context);

    expect(progress).toMatchObject({
      complete: true,
      invocations: 3,
      copied: { objects: 5, bytes: 50 },
      deleted: { objects: 1, bytes: 1 },
      unchanged: { objects: 0, bytes: 0 },
      checked: 3,
      pending: 0,
    });
  });

  it('refuses an event for a table that is not an ML table', async () => {
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });

    await expect(sync({ run, table: 'molecules' }, context)).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/^sync-table event: table: /),
    });
  });

  it('refuses an event whose run says dryRun as text, naming the step, the field and the value, before listing anything', async () => {
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });

    await expect(sync({ run: { ...run, dryRun: 'yes' }, table: 'ml_run_summary' }, context)).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/^sync-table event: run\.dryRun: .*got "yes"$/),
    });
    expect(s3.calls()).toHaveLength(0);
  });
});

describe('r2-sync environment', () => {
  it('needs SYNC_SETTINGS, as JSON, with valid settings', () => {
    expect(() => readSyncSettings({})).toThrow('environment variable SYNC_SETTINGS is not set');
    expect(() => readSyncSettings({ SYNC_SETTINGS: '{' })).toThrow('environment variable SYNC_SETTINGS is not JSON');
    expect(() => readSyncSettings({ SYNC_SETTINGS: JSON.stringify({ ...settings, transfers: 0 }) })).toThrow(
      /^environment variable SYNC_SETTINGS: transfers: .*got 0/,
    );
    expect(readSyncSettings({ SYNC_SETTINGS: JSON.stringify(settings) })).toEqual(settings);
  });

  it('needs the R2 token secret at module load, before any invocation', () => {
    expect(() => withSyncClients({}, settings, () => async () => undefined)).toThrow(
      'environment variable R2_CREDENTIALS_SECRET_ARN is not set',
    );
  });
});
