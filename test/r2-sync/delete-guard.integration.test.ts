/**
 * The delete guard against the real local stores (Garage with two keys, see support.ts): a
 * table's source emptied after it was mirrored is refused - nothing deleted - until the run says
 * allowEmptySource. Runs the sync-table step itself, with its deployed-settings shape.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import type { SyncSettings } from '../../lambdas/r2-sync/contract';
import { s3ClientFor, sideFor } from '../../lambdas/r2-sync/engine/clients';
import { createSyncTable } from '../../lambdas/r2-sync/steps/sync-table';
import { syncSettings } from './fixtures';
import { contents, localEndpoints, putAll, removeAll, sides } from './support';

const root = `sync-guard-test-${randomBytes(4).toString('hex')}/`;
const endpoints = localEndpoints(root);
const { source, destination } = sides(endpoints);
const settings: SyncSettings = {
  ...syncSettings,
  source: endpoints.source,
  destination: endpoints.destination,
  tables: ['ml_run_summary'],
};
const clients = {
  source: s3ClientFor(endpoints.source, endpoints.sourceCredentials),
  destination: s3ClientFor(endpoints.destination, endpoints.destinationCredentials),
};
const table = sideFor('destination', clients.destination, endpoints.destination, 'ml_run_summary');
const run = { runId: 'guard-1', tables: ['ml_run_summary'], dryRun: false, trigger: 'test' };
const context = { getRemainingTimeInMillis: () => 600_000 };

afterAll(async () => {
  await removeAll(source.client, source.bucket, source.prefix);
  await removeAll(destination.client, destination.bucket, destination.prefix);
});

describe('the delete guard on the real stores', () => {
  it('refuses to empty a mirror from an empty source, and empties it once allowEmptySource says so', async () => {
    // Prepare: three objects mirrored, then the source table folder emptied.
    const sync = createSyncTable({ settings, clients, log: new Logger('test', {}, 'ERROR') });
    const objects = {
      'ml_run_summary/data/part-0.parquet': 'rows 0',
      'ml_run_summary/data/part-1.parquet': 'rows 1',
      'ml_run_summary/metadata/v1.metadata.json': JSON.stringify({
        'format-version': 2,
        location: `s3://${source.bucket}/${source.prefix}ml_run_summary`,
      }),
    };
    await putAll(source, objects);
    expect(await sync({ run, table: 'ml_run_summary' }, context)).toMatchObject({
      complete: true,
      copied: { objects: 3 },
    });
    await removeAll(source.client, source.bucket, source.prefix);
    const before = await contents(table);

    // Act
    const refused = sync({ run, table: 'ml_run_summary' }, context);

    // Assess: refused, naming the table and the counts; the mirror is untouched.
    await expect(refused).rejects.toMatchObject({
      name: 'SyncDeleteGuardError',
      message: expect.stringMatching(
        /^ml_run_summary: refused to delete 3 of the mirror's 3 object\(s\) \(100%\): the source listing is empty/,
      ),
    });
    // The three objects and the mirror's pointer to its current metadata (version-hint.text, latest.json).
    expect(before.size).toBe(5);
    expect([...(await contents(table)).keys()].sort()).toEqual([...before.keys()].sort());

    // Act
    const allowed = await sync({ run: { ...run, allowEmptySource: true }, table: 'ml_run_summary' }, context);

    // Assess: the pointer went too (first: it must never name files that are gone).
    expect(allowed).toMatchObject({ complete: true, deleted: { objects: 3 } });
    expect((await contents(table)).size).toBe(0);
  });
});
