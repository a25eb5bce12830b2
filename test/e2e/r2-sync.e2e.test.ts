/**
 * The synthesized "r2 sync" state machine executed locally against two real S3 endpoints
 * (Garage: the features bucket with the pipeline's key, the qp-data stand-in with its own key).
 * The ML tables are stand-in objects here, but for a real Iceberg table's files (test/r2-sync/
 * iceberg-table.ts) in the first test; the feature pipeline's e2e test syncs tables the jobs wrote.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import type { SyncSettings, TableProgress } from '../../lambdas/r2-sync/contract';
import { resolveValue } from '../../localstack/embedded/definition';
import { createLocalPipeline, dataplaneFromEnv } from '../../localstack/embedded/local-pipeline';
import { CURRENT_METADATA, relocated } from '../r2-sync/iceberg-table';
import { contents, localEndpoints, putAll, removeAll, sides } from '../r2-sync/support';
import { entered, execute } from './harness';

const id = randomBytes(4).toString('hex');
const MINUTES = 60_000;

/** A local deployment whose sync works under the test's own prefix on both sides: no test sees another's objects. */
function localSync(
  name: string,
  overrides: {
    settings?: Partial<SyncSettings>;
    budgetMs?: number;
    r2Credentials?: { accessKeyId: string; secretAccessKey: string };
  } = {},
) {
  const endpoints = localEndpoints(`e2e-sync-${id}/${name}/`);
  const dataplane = dataplaneFromEnv(process.env);
  const pipeline = createLocalPipeline({
    dataplane: { ...dataplane, r2Credentials: overrides.r2Credentials ?? dataplane.r2Credentials },
    r2Settings: { source: endpoints.source, destination: endpoints.destination, ...overrides.settings },
    r2LambdaBudgetMs: overrides.budgetMs,
    retryOverridesMs: { SyncTable: 100 },
  });
  if (!pipeline.r2Sync) throw new Error('the local profile deploys no R2 sync');
  return { pipeline, sync: pipeline.r2Sync, ...sides(endpoints) };
}

const tableFiles = (table: string, count: number) =>
  Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`${table}/data/part-${i}.parquet`, `rows ${i} of ${table}`]),
  );

afterAll(async () => {
  const { source, destination } = sides(localEndpoints(`e2e-sync-${id}/`));
  await removeAll(source.client, source.bucket, source.prefix);
  await removeAll(destination.client, destination.bucket, destination.prefix);
});

describe('r2 sync state machine, executed locally', () => {
  it(
    'mirrors both ML tables as Iceberg tables of their own and publishes "R2 Sync Completed"; a resync copies nothing',
    async () => {
      // Prepare: in each table folder, a real Iceberg table's 10 files and a few more data files.
      const { pipeline, sync, source, destination } = localSync('mirror');
      const iceberg = (table: string) =>
        Object.fromEntries(
          [...relocated(`${source.prefix}${table}/`)].map(([key, bytes]) => [`${table}/${key}`, bytes]),
        );
      await putAll(source, {
        ...tableFiles('ml_iteration_features', 5),
        ...tableFiles('ml_run_summary', 3),
        ...iceberg('ml_run_summary'),
        ...iceberg('ml_iteration_features'),
      });

      // Act
      const run = await execute(sync, {}, 'e2e-sync-console');
      const again = await execute(sync, { trigger: 'console-again' }, 'e2e-sync-again');

      // Assess
      expect(run.error).toBeUndefined();
      const tables = run.output?.tables as TableProgress[];
      const mirrorOf = (table: string) => `s3://${destination.bucket}/${destination.prefix}${table}`;
      expect(tables.map((t) => [t.table, t.complete, t.copied.objects, t.metadata])).toEqual([
        ['ml_iteration_features', true, 15, `${mirrorOf('ml_iteration_features')}/${CURRENT_METADATA}`],
        ['ml_run_summary', true, 13, `${mirrorOf('ml_run_summary')}/${CURRENT_METADATA}`],
      ]);
      // Data byte for byte; metadata rewritten to name the mirror alone; plus each table's pointer.
      const [want, have] = await Promise.all([contents(source), contents(destination)]);
      const pointers = ['ml_iteration_features', 'ml_run_summary'].flatMap((table) => [
        `${table}/metadata/latest.json`,
        `${table}/metadata/version-hint.text`,
      ]);
      expect([...have.keys()].sort()).toEqual([...want.keys(), ...pointers].sort());
      for (const [key, bytes] of want) {
        if (key.includes('/metadata/')) expect(have.get(key)?.toString('latin1'), key).not.toContain('//features/');
        else expect(have.get(key)?.equals(bytes), key).toBe(true);
      }
      expect(have.get(`ml_run_summary/${CURRENT_METADATA}`)?.toString()).toContain(
        `"location":"${mirrorOf('ml_run_summary')}"`,
      );
      const event = pipeline.bus.events.find((e) => e['detail-type'] === 'R2 Sync Completed');
      expect(event?.detail).toMatchObject({ runId: 'e2e-sync-console', trigger: 'console', dryRun: false });
      expect((again.output?.tables as TableProgress[] | undefined)?.map((t) => t.copied.objects)).toEqual([0, 0]);
    },
    3 * MINUTES,
  );

  it(
    'syncs only the requested table in a dry run, changing nothing',
    async () => {
      const { sync, source, destination } = localSync('dry-run');
      await putAll(source, {
        'ml_run_summary/data/new.parquet': 'new rows',
        'ml_iteration_features/data/a.parquet': 'other table',
      });
      await putAll(destination, { 'ml_run_summary/data/stray.parquet': 'gone from the source' });

      const run = await execute(sync, { tables: ['ml_run_summary'], dryRun: true }, 'e2e-sync-dry');

      expect(run.error).toBeUndefined();
      expect(run.output?.tables).toEqual([
        expect.objectContaining({
          table: 'ml_run_summary',
          copied: { objects: 1, bytes: 8 },
          deleted: expect.objectContaining({ objects: 1 }),
        }),
      ]);
      // Nothing copied, nothing deleted, the other table not even looked at.
      expect([...(await contents(destination)).keys()]).toEqual(['ml_run_summary/data/stray.parquet']);
    },
    3 * MINUTES,
  );

  it(
    "continues over several invocations when one Lambda's time is not enough, and ends exact",
    async () => {
      // 10 s budget, 10 s safety margin: each invocation finishes its one guaranteed copy, and a few more at most.
      const { sync, source, destination } = localSync('resume', {
        settings: { transfers: 1, safetyMarginSeconds: 10 },
        budgetMs: 10_000,
      });
      await putAll(source, tableFiles('ml_iteration_features/batch', 30));

      const run = await execute(sync, { tables: ['ml_iteration_features', 'ml_run_summary'] }, 'e2e-sync-resume');

      expect(run.error).toBeUndefined();
      const [iteration] = (run.output?.tables ?? []) as TableProgress[];
      expect(iteration.complete).toBe(true);
      expect(iteration.invocations).toBeGreaterThan(1);
      expect(entered(run, 'SyncTable').length).toBeGreaterThan(2);
      const [want, have] = await Promise.all([contents(source), contents(destination)]);
      expect([...have.keys()].sort()).toEqual([...want.keys()].sort());
      for (const [key, bytes] of want) expect(have.get(key)?.equals(bytes), key).toBe(true);
    },
    5 * MINUTES,
  );

  it(
    'refuses a table it does not sync, at CheckHealth, and alerts',
    async () => {
      const { pipeline, sync } = localSync('invalid');

      const run = await execute(sync, { tables: ['ml_everything'] }, 'e2e-sync-invalid');

      expect(run.error?.name).toBe(ERROR_NAMES.invalidInput);
      expect(run.error?.message).toMatch(/tables\[0\]: .*got "ml_everything"/);
      expect(entered(run, 'SyncTable')).toHaveLength(0);
      expect(
        pipeline.bus.deliveries.some((d) => /R2 sync execution e2e-sync-invalid ended FAILED/.test(d.message)),
      ).toBe(true);
    },
    2 * MINUTES,
  );

  it(
    'stops at the health check with a wrong R2 token, naming the destination, and deletes nothing',
    async () => {
      const { sync, source, destination } = localSync('bad-token', {
        r2Credentials: { accessKeyId: 'GK000000000000000000000000', secretAccessKey: '0'.repeat(64) },
      });
      await putAll(source, { 'ml_run_summary/data/a.parquet': 'rows' });
      await putAll(destination, { 'ml_run_summary/data/stray.parquet': 'not in the source' });
      const before = await contents(destination);

      const run = await execute(sync, {}, 'e2e-sync-bad-token');

      expect(run.error?.name).toBe(ERROR_NAMES.syncEndpoint);
      expect(run.error?.message).toMatch(/^destination \(bucket qp-data\): list failed/);
      expect(entered(run, 'SyncTables')).toHaveLength(0);
      expect([...(await contents(destination)).keys()].sort()).toEqual([...before.keys()].sort());
    },
    2 * MINUTES,
  );

  it(
    'is started by "ML Features Updated" when job 2 changed the tables, and not when it had nothing new',
    async () => {
      const { pipeline, sync } = localSync('event');
      const features = { status: 'succeeded' };
      // The feature pipeline publishes on the stack's own event bus, where the sync's rule listens.
      const busId = pipeline.stack.getLogicalId(pipeline.stack.events.bus.node.defaultChild as never);
      const bus = resolveValue(pipeline.template, { Ref: busId });
      const put = (event: Parameters<typeof pipeline.bus.put>[0]) => pipeline.bus.put(event, bus);
      // The same event on the default bus, where anyone may put one, starts nothing.
      pipeline.bus.put({
        source: 'quantum-pipeline.features',
        'detail-type': 'ML Features Updated',
        detail: { runId: 'r0', features, mlFeatures: { status: 'succeeded' } },
      });
      expect(sync.triggered).toHaveLength(0);

      put({
        source: 'quantum-pipeline.features',
        'detail-type': 'ML Features Updated',
        detail: { runId: 'r1', features, mlFeatures: { status: 'no_changes' } },
      });
      put({
        source: 'quantum-pipeline.features',
        'detail-type': 'ML Features Updated',
        detail: { runId: 'r2', features, mlFeatures: null },
      });
      expect(sync.triggered).toHaveLength(0);
      put({
        source: 'quantum-pipeline.features',
        'detail-type': 'ML Features Updated',
        detail: { runId: 'r3', features, mlFeatures: { status: 'succeeded' } },
      });

      expect(sync.triggered).toHaveLength(1);
      const output = (await sync.triggered[0].result) as { run: { trigger: string } };
      expect(output.run.trigger).toBe('features-updated');
    },
    3 * MINUTES,
  );
});
