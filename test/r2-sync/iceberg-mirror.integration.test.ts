/**
 * The Iceberg mirror on the real local stores (Garage with two keys, see support.ts), through the
 * sync-table step: a real Iceberg table (iceberg-table.ts) mirrored with its metadata rewritten
 * for the mirror and a pointer to its current metadata, commit by commit. pyiceberg opening the
 * mirror of tables the jobs wrote is spark-jobs/tests/integration/test_r2_mirror.py.
 */
import { randomBytes } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import type { SyncSettings } from '../../lambdas/r2-sync/contract';
import { rewriteAvroFile } from '../../lambdas/r2-sync/engine/avro';
import { s3ClientFor, sideFor } from '../../lambdas/r2-sync/engine/clients';
import { mirrorKind } from '../../lambdas/r2-sync/engine/iceberg-mirror';
import { listSide } from '../../lambdas/r2-sync/engine/listing';
import { createSyncTable } from '../../lambdas/r2-sync/steps/sync-table';
import { syncSettings } from './fixtures';
import { CURRENT_METADATA, CURRENT_SNAPSHOT, relocated } from './iceberg-table';
import { contents, localEndpoints, putAll, removeAll, sides } from './support';

const root = `sync-mirror-test-${randomBytes(4).toString('hex')}/`;
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
const mirror = sideFor('destination', clients.destination, endpoints.destination, 'ml_run_summary');
const TARGET = `s3://${destination.bucket}/${destination.prefix}ml_run_summary`;
const run = { runId: 'mirror-1', tables: ['ml_run_summary'], dryRun: false, trigger: 'test' };
const context = { getRemainingTimeInMillis: () => 600_000 };
const table = relocated(`${source.prefix}ml_run_summary/`);
/** The files of the table's second commit (version 2): its data file, manifest, manifest list and metadata.json. */
const secondCommit = [...table.keys()].filter(
  (key) =>
    key === CURRENT_METADATA ||
    key.includes(CURRENT_SNAPSHOT) ||
    key.includes('4e9d05ca') ||
    key.includes('-3-b0f7de53'),
);
const firstCommit = [...table.keys()].filter((key) => !secondCommit.includes(key));

/** The table's files to put under the source: keys relative to the source prefix. */
const files = (keys: readonly string[]) =>
  Object.fromEntries(keys.map((key) => [`ml_run_summary/${key}`, table.get(key) as Buffer]));

/** Records the destination's PUT keys, in order. */
function recordPuts(): string[] {
  const puts: string[] = [];
  clients.destination.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'PutObjectCommand')
        puts.push((args.input as { Key: string }).Key.slice(mirror.prefix.length));
      return next(args);
    },
    { step: 'initialize', name: `recordPuts${randomBytes(2).toString('hex')}` },
  );
  return puts;
}

/** Each manifest list of `keys` gives the size its manifests have in the mirror. */
function expectManifestLengths(have: Map<string, Buffer>, keys: readonly string[]): void {
  const lists = keys.filter((key) => key.includes('/snap-'));
  let checked = 0;
  for (const list of lists) {
    rewriteAvroFile(have.get(list) as Buffer, {
      long: (value, field, siblings) => {
        if (field !== 'manifest_length') return value;
        const manifest = (siblings.get('manifest_path') as string).slice(TARGET.length + 1);
        expect(Number(value), manifest).toBe(have.get(manifest)?.length);
        checked += 1;
        return value;
      },
    });
  }
  expect(checked).toBeGreaterThanOrEqual(lists.length);
}

afterAll(async () => {
  await removeAll(source.client, source.bucket, source.prefix);
  await removeAll(destination.client, destination.bucket, destination.prefix);
});

describe('the Iceberg mirror on the real stores', () => {
  const sync = createSyncTable({ settings, clients, log: new Logger('test', {}, 'ERROR') });
  const puts = recordPuts();

  it('mirrors a commit with every path pointing into the mirror, then publishes the pointer, last', async () => {
    // Prepare: the table as its first commit left it.
    await putAll(source, files(firstCommit));

    // Act
    const progress = await sync({ run, table: 'ml_run_summary' }, context);

    // Assess: data byte for byte; metadata rewritten, naming the mirror only.
    const first = firstCommit.find((key) => key.startsWith('metadata/00001-')) as string;
    expect(progress).toMatchObject({
      complete: true,
      copied: { objects: firstCommit.length },
      metadata: `${TARGET}/${first}`,
    });
    const have = await contents(mirror);
    for (const key of firstCommit) {
      const bytes = have.get(key) as Buffer;
      if (mirrorKind(key) === 'copy') expect(bytes.equals(table.get(key) as Buffer), key).toBe(true);
      else expect(bytes.toString('latin1'), key).not.toContain(`//${source.bucket}/`);
    }
    expect(have.get(first)?.toString()).toContain(`"location":"${TARGET}"`);
    expectManifestLengths(have, firstCommit);
    expect(have.get('metadata/version-hint.text')?.toString()).toBe(
      first.slice('metadata/'.length, -'.metadata.json'.length),
    );
    expect(JSON.parse(have.get('metadata/latest.json')?.toString() as string)).toMatchObject({
      'metadata-location': `${TARGET}/${first}`,
    });
    // Order: data, manifests, manifest list, metadata.json, then latest.json and the hint.
    const rank = (key: string) =>
      ['data/', 'metadata/00', 'metadata/snap-', 'metadata/latest.json', 'metadata/version-hint.text'].findIndex(
        (start) => key.startsWith(start),
      );
    const order = puts.map((key) => (key.endsWith('-m0.avro') ? 0.5 : rank(key) === 1 ? 2.5 : rank(key)));
    expect(order).toEqual([...order].sort((a, b) => a - b));
    expect(puts.slice(-2)).toEqual(['metadata/latest.json', 'metadata/version-hint.text']);
  });

  it('checks instead of copying on a resync, and leaves the pointer as it is', async () => {
    const before = await listSide(mirror);
    puts.length = 0;

    const progress = await sync({ run, table: 'ml_run_summary' }, context);

    expect(progress).toMatchObject({ complete: true, copied: { objects: 0 }, checked: 4 });
    expect(puts).toEqual([]);
    expect(await listSide(mirror)).toEqual(before);
  });

  it('rewrites only the new commit and moves the pointer to it', async () => {
    // Prepare
    const before = await listSide(mirror);
    await putAll(source, files(secondCommit));
    puts.length = 0;

    // Act
    const progress = await sync({ run, table: 'ml_run_summary' }, context);

    // Assess
    expect(progress).toMatchObject({
      complete: true,
      copied: { objects: 4 },
      metadata: `${TARGET}/${CURRENT_METADATA}`,
    });
    expect(puts.slice(0, 4).sort()).toEqual([...secondCommit].sort());
    const after = await listSide(mirror);
    for (const [key, entry] of before) {
      if (!key.startsWith('metadata/latest') && !key.startsWith('metadata/version-hint'))
        expect(after.get(key), key).toEqual(entry);
    }
    const have = await contents(mirror);
    expect(have.get('metadata/version-hint.text')?.toString()).toBe(
      CURRENT_METADATA.slice('metadata/'.length, -'.metadata.json'.length),
    );
    // The new list names the first commit's manifest too: its size came from the mirror's listing.
    expectManifestLengths(have, secondCommit);
  });

  it('keeps the pointer when a failed commit left a second file of the newest version', async () => {
    // Prepare: an uncommitted attempt at version 2 beside the commit.
    const stray = 'metadata/00002-00000000-0000-0000-0000-000000000000.metadata.json';
    await source.client.send(
      new PutObjectCommand({
        Bucket: source.bucket,
        Key: `${source.prefix}ml_run_summary/${stray}`,
        Body: table.get(CURRENT_METADATA),
      }),
    );

    // Act
    const progress = await sync({ run, table: 'ml_run_summary' }, context);

    // Assess: the file is mirrored (it is the source's), the pointer still names the commit.
    expect(progress).toMatchObject({ complete: true, copied: { objects: 1 } });
    expect(progress.metadata).toBeUndefined();
    const hint = (await contents(mirror)).get('metadata/version-hint.text')?.toString();
    expect(hint).toBe(CURRENT_METADATA.slice('metadata/'.length, -'.metadata.json'.length));
  });
});
