/** The r2-sync step cores and their environment, at the SDK boundary (S3 mocked; the real stores are in the integration tests). */
import { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import { MetricEmitter } from '../../lambdas/core/metrics';
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

describe('sync-table delete guard', () => {
  const mirrored = ['data/a.parquet', 'data/b.parquet', 'metadata/v1.metadata.json'];
  const listing = (prefix: string, keys: readonly string[]) => ({
    Contents: keys.map((key) => ({ Key: `${prefix}${key}`, Size: 3, ETag: `"${key.length}"` })),
  });
  const mirror = (keys: readonly string[] = mirrored) => {
    s3.on(ListObjectsV2Command, { Bucket: 'qp-data' }).resolves(listing('features/ml_run_summary/', keys));
    s3.on(DeleteObjectsCommand).resolves({});
  };
  const source = (keys: readonly string[]) => {
    s3.on(ListObjectsV2Command, { Bucket: 'features' }).resolves(listing('warehouse/ns/ml_run_summary/', keys));
    s3.on(GetObjectCommand).callsFake(() => ({ Body: Readable.from([Buffer.from('abc')]), ContentLength: 3 }));
    s3.on(PutObjectCommand).resolves({ ETag: '"put"' });
  };

  it('refuses to empty the mirror from an empty source listing, deleting nothing', async () => {
    // Prepare
    source([]);
    mirror();
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });

    // Act
    const syncing = sync({ run, table: 'ml_run_summary' }, context);

    // Assess
    await expect(syncing).rejects.toMatchObject({
      name: 'SyncDeleteGuardError',
      message:
        "ml_run_summary: refused to delete 3 of the mirror's 3 object(s) (100%): the source listing is empty; " +
        'start the sync with {"allowEmptySource": true} if the table really is empty; ' +
        'limits maxDeleteFraction 0.5, maxDeleteCount 1000; 0 copied, nothing deleted',
    });
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
  });

  it('empties the mirror from an empty source only when the run allows it', async () => {
    // Prepare
    source([]);
    mirror();
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });

    // Act
    const refused = sync({ run, table: 'ml_run_summary' }, context);
    const progress = await sync({ run: { ...run, allowEmptySource: true }, table: 'ml_run_summary' }, context);

    // Assess
    await expect(refused).rejects.toMatchObject({ name: 'SyncDeleteGuardError' });
    expect(progress).toMatchObject({ complete: true, deleted: { objects: 3 } });
    const deletes = s3.commandCalls(DeleteObjectsCommand).map((call) => call.args[0].input.Delete?.Objects);
    expect(deletes).toEqual([mirrored.map((key) => ({ Key: `features/ml_run_summary/${key}` }))]);
  });

  it('makes the copies but refuses deletions beyond maxDeleteFraction, naming table, counts and limits', async () => {
    // Prepare: one object stays, one is new, two of the three mirrored ones vanished (67%).
    source(['data/a.parquet', 'data/new.parquet']);
    mirror();
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });

    // Act
    const syncing = sync({ run, table: 'ml_run_summary' }, context);

    // Assess
    await expect(syncing).rejects.toMatchObject({
      name: 'SyncDeleteGuardError',
      message:
        "ml_run_summary: refused to delete 2 of the mirror's 3 object(s) (66.7%): more than the limits allow; " +
        'raise r2.maxDeleteFraction / r2.maxDeleteCount if this is intended; ' +
        'limits maxDeleteFraction 0.5, maxDeleteCount 1000; 1 copied, nothing deleted',
    });
    expect(s3.commandCalls(PutObjectCommand).map((call) => call.args[0].input.Key)).toEqual([
      'features/ml_run_summary/data/new.parquet',
    ]);
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('refuses more deletions than maxDeleteCount from the deployed settings, and lets exactly that many through', async () => {
    // Prepare: five of six mirrored objects vanished, then four of six.
    const limited = { ...settings, maxDeleteFraction: 1, maxDeleteCount: 4 };
    const sync = createSyncTable({ settings: limited, clients: clients(), log: quiet });
    const six = [...mirrored, 'data/c.parquet', 'data/d.parquet', 'data/e.parquet'];
    source(['data/a.parquet']);
    mirror(six);

    // Act
    const refused = sync({ run, table: 'ml_run_summary' }, context);

    // Assess
    await expect(refused).rejects.toMatchObject({
      name: 'SyncDeleteGuardError',
      message: expect.stringMatching(/refused to delete 5 of the mirror's 6 object\(s\).*maxDeleteCount 4; 0 copied/),
    });
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);

    // Prepare
    source(['data/a.parquet', 'data/b.parquet']);

    // Act
    const progress = await sync({ run, table: 'ml_run_summary' }, context);

    // Assess
    expect(progress).toMatchObject({ complete: true, deleted: { objects: 4 } });
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(1);
  });

  it('says in a dry run that a real run would be refused, without failing or changing anything', async () => {
    // Prepare
    source([]);
    mirror();
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });

    // Act
    const progress = await sync({ run: { ...run, dryRun: true }, table: 'ml_run_summary' }, context);

    // Assess
    expect(progress).toMatchObject({
      complete: true,
      deleted: { objects: 3 },
      deletionsRefused: expect.stringMatching(
        /^ml_run_summary: refused to delete 3 of the mirror's 3 object\(s\) \(100%\): the source listing is empty.*; a real run would copy, delete nothing and fail$/,
      ),
    });
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    expect(s3.commandCalls(PutObjectCommand)).toHaveLength(0);
  });

  it('goes on copying while copies are pending, and refuses once they are all in', async () => {
    // Prepare: no time left, so this invocation makes its one guaranteed copy of two.
    source(['data/new-1.parquet', 'data/new-2.parquet']);
    mirror();
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });
    const late = { getRemainingTimeInMillis: () => 0 };

    // Act
    const progress = await sync({ run, table: 'ml_run_summary' }, late);
    const next = sync({ run, table: 'ml_run_summary', progress }, context);

    // Assess: the first invocation hands on; the next one copies the rest and then refuses.
    expect(progress).toMatchObject({ complete: false, pending: 1, copied: { objects: 1 } });
    await expect(next).rejects.toMatchObject({
      name: 'SyncDeleteGuardError',
      message: expect.stringMatching(/refused to delete 3 of the mirror's 3 object\(s\).*; 3 copied, nothing deleted$/),
    });
    expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
  });

  it('reads a run planned before allowEmptySource existed as not allowing an empty source', async () => {
    // Prepare
    source([]);
    mirror();
    const sync = createSyncTable({ settings, clients: clients(), log: quiet });
    const { allowEmptySource: _, ...older } = { ...run, allowEmptySource: true };

    // Act
    const syncing = sync({ run: older, table: 'ml_run_summary' }, context);

    // Assess
    await expect(syncing).rejects.toMatchObject({ name: 'SyncDeleteGuardError' });
  });

  it('publishes what the invocation copied and deleted as one EMF line per table, and nothing for a dry run', async () => {
    // Prepare: one object new, one vanished from the source, two unchanged.
    source(['data/a.parquet', 'data/b.parquet', 'data/new.parquet']);
    mirror(['data/a.parquet', 'data/b.parquet', 'data/gone.parquet']);
    const lines: Record<string, unknown>[] = [];
    const metrics = new MetricEmitter({ stack: 'qp-test', sink: (line) => lines.push(JSON.parse(line)), log: quiet });
    const sync = createSyncTable({ settings, clients: clients(), log: quiet, metrics });

    // Act
    await sync({ run: { ...run, dryRun: true }, table: 'ml_run_summary' }, context);
    const dryRunLines = lines.length;
    await sync({ run, table: 'ml_run_summary' }, context);

    // Assess
    expect(dryRunLines).toBe(0);
    expect(lines).toEqual([
      {
        _aws: {
          Timestamp: expect.any(Number),
          CloudWatchMetrics: [
            {
              Namespace: 'QuantumPipeline',
              Dimensions: [['Stack', 'Job', 'Table']],
              Metrics: [
                { Name: 'ObjectsCopied', Unit: 'Count' },
                { Name: 'BytesCopied', Unit: 'Bytes' },
                { Name: 'ObjectsDeleted', Unit: 'Count' },
                { Name: 'BytesDeleted', Unit: 'Bytes' },
                { Name: 'SyncSeconds', Unit: 'Seconds' },
              ],
            },
          ],
        },
        RunId: 'sync-1',
        Stack: 'qp-test',
        Job: 'r2_sync',
        Table: 'ml_run_summary',
        ObjectsCopied: 1,
        BytesCopied: 3,
        ObjectsDeleted: 1,
        BytesDeleted: 3,
        SyncSeconds: expect.any(Number),
      },
    ]);
    expect(lines[0].SyncSeconds as number).toBeGreaterThanOrEqual(0);
  });
});

describe('allowEmptySource in the console input', () => {
  it.each([
    [{}, false],
    [{ allowEmptySource: true }, true],
  ])('is carried from %j into the run the table syncs read', async (input, allowed) => {
    // Prepare: both sides pass the health probe.
    s3.on(GetObjectCommand).callsFake((request: { Key: string }) => ({
      Body: { transformToString: async () => probes.get(request.Key) },
    }));
    const probes = new Map<string, string>();
    s3.on(PutObjectCommand).callsFake((request: { Key: string; Body: string }) => {
      probes.set(request.Key, request.Body);
      return {};
    });
    const check = createSyncHealthCheck({ settings, clients: clients(), log: quiet });

    // Act
    const checked = await check({ input, executionName: 'sync-2' });

    // Assess
    expect(checked).toMatchObject({ runId: 'sync-2', allowEmptySource: allowed });
  });

  it('refuses allowEmptySource given as text, before touching any store', async () => {
    // Prepare
    const check = createSyncHealthCheck({ settings, clients: clients(), log: quiet });

    // Act
    const checking = check({ input: { allowEmptySource: 'yes' }, executionName: 'x' });

    // Assess
    await expect(checking).rejects.toMatchObject({
      name: 'InvalidInputError',
      message: expect.stringMatching(/^allowEmptySource: .*got "yes"$/),
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

  it('reads settings deployed before the delete guard with its default limits', () => {
    // Prepare
    const { maxDeleteFraction: _f, maxDeleteCount: _c, ...older } = settings;

    // Act
    const read = readSyncSettings({ SYNC_SETTINGS: JSON.stringify(older) });

    // Assess
    expect(read).toMatchObject({ maxDeleteFraction: 0.5, maxDeleteCount: 1000 });
  });

  it.each([
    [{ maxDeleteFraction: 1.5 }, /^maxDeleteFraction: .*got 1\.5$/],
    [{ maxDeleteFraction: -0.1 }, /^maxDeleteFraction: .*got -0\.1$/],
    [{ maxDeleteCount: 2.5 }, /^maxDeleteCount: .*got 2\.5$/],
    [{ maxDeleteCount: -1 }, /^maxDeleteCount: .*got -1$/],
  ])('refuses the limits %j, naming the field and the value', (limits, message) => {
    // Act
    const reading = () => readSyncSettings({ SYNC_SETTINGS: JSON.stringify({ ...settings, ...limits }) });

    // Assess
    expect(reading).toThrow(new RegExp(`^environment variable SYNC_SETTINGS: ${message.source.slice(1)}`));
  });

  it('needs the R2 token secret at module load, before any invocation', () => {
    expect(() => withSyncClients({}, settings, () => async () => undefined)).toThrow(
      'environment variable R2_CREDENTIALS_SECRET_ARN is not set',
    );
  });
});
