/**
 * The sync against two real S3 endpoints (Garage with two keys, see support.ts): nested keys, a
 * multipart object, changes, deletions, a no-op resync, an interrupted sync resumed, a failing
 * copy, wrong credentials on each side, and a dry run.
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { s3ClientFor } from '../../lambdas/r2-sync/engine/clients';
import { checkHealth } from '../../lambdas/r2-sync/engine/health';
import type { Side } from '../../lambdas/r2-sync/engine/listing';
import { type SyncOptions, syncPrefix } from '../../lambdas/r2-sync/engine/sync';
import { MIB } from '../../lambdas/r2-sync/engine/transfer';
import { contents, localEndpoints, putAll, removeAll, sides } from './support';

const root = `sync-test-${randomBytes(4).toString('hex')}/`;
const LARGE = 12 * MIB + 123; // three parts of 5 MiB with the settings below
let pairs = 0;

/** A source and a destination of their own under a new prefix: each test starts from what it puts there. */
function freshPair() {
  pairs += 1;
  const endpoints = localEndpoints(`${root}${pairs}/`);
  const { source, destination } = sides(endpoints);
  const options = (overrides: Partial<SyncOptions> = {}): SyncOptions => ({
    source,
    destination,
    transfers: 8,
    checkers: 4,
    dryRun: false,
    transfer: { multipartThreshold: 5 * MIB, partSize: 5 * MIB, partConcurrency: 2 },
    ...overrides,
  });
  const expectMirrored = async (): Promise<void> => {
    const [want, have] = await Promise.all([contents(source), contents(destination)]);
    expect([...have.keys()].sort()).toEqual([...want.keys()].sort());
    for (const [key, body] of want) expect(have.get(key)!.equals(body), key).toBe(true);
  };
  return { endpoints, source, destination, options, expectMirrored };
}

/** A pair whose destination already mirrors `objects`. */
async function mirroredPair(objects: Record<string, string | Uint8Array>) {
  const pair = freshPair();
  await putAll(pair.source, objects);
  expect(await syncPrefix(pair.options())).toMatchObject({ complete: true, failedTotal: 0 });
  return pair;
}

const NESTED = {
  'ml_run_summary/data/experiment_id=1/part-0.parquet': 'rows of experiment 1',
  'ml_run_summary/data/experiment_id=2/deep/er/part-1.parquet': 'rows of experiment 2',
  'ml_run_summary/metadata/v1.metadata.json': '{"format-version":2}',
};

afterAll(async () => {
  const { source, destination } = sides(localEndpoints(root));
  await removeAll(source.client, source.bucket, source.prefix);
  await removeAll(destination.client, destination.bucket, destination.prefix);
});

describe('syncPrefix between two real endpoints', () => {
  it('copies nested keys and a multipart object, data before metadata, with the source ETag and size in the metadata', async () => {
    const { endpoints, source, destination, options, expectMirrored } = freshPair();
    await putAll(source, { ...NESTED, 'ml_iteration_features/data/big.parquet': randomBytes(LARGE) });

    const writes: string[] = [];
    const recording = s3ClientFor(endpoints.destination, endpoints.destinationCredentials);
    recording.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutObjectCommand' || context.commandName === 'CompleteMultipartUploadCommand') {
          writes.push((args.input as { Key: string }).Key.slice(destination.prefix.length));
        }
        return next(args);
      },
      { step: 'initialize', name: 'recordWrites' },
    );

    const report = await syncPrefix(options({ destination: { ...destination, client: recording } }));

    expect(writes.at(-1)).toBe('ml_run_summary/metadata/v1.metadata.json');
    expect(report).toMatchObject({
      complete: true,
      copied: { objects: 4, bytes: LARGE + 20 + 20 + 20 },
      deleted: { objects: 0 },
      failedTotal: 0,
      pending: 0,
    });
    await expectMirrored();
    const head = await destination.client.send(
      new HeadObjectCommand({
        Bucket: destination.bucket,
        Key: `${destination.prefix}ml_iteration_features/data/big.parquet`,
      }),
    );
    expect(head.ETag).toMatch(/-3"$/); // really a three-part upload
    expect(head.Metadata).toMatchObject({ 'qp-source-size': String(LARGE) });
  });

  it('copies nothing on a resync of unchanged data, deciding the multipart object by one HEAD', async () => {
    const { options } = await mirroredPair({ ...NESTED, 'ml_iteration_features/data/big.parquet': randomBytes(LARGE) });

    const report = await syncPrefix(options());

    expect(report).toMatchObject({
      complete: true,
      copied: { objects: 0, bytes: 0 },
      deleted: { objects: 0 },
      unchanged: { objects: 4 },
      checked: 1,
    });
  });

  it('copies changed content of the same size and deletes what vanished from the source', async () => {
    const { source, options, expectMirrored } = await mirroredPair(NESTED);
    await putAll(source, { 'ml_run_summary/data/experiment_id=1/part-0.parquet': 'ROWS OF EXPERIMENT 1' });
    await source.client.send(
      new DeleteObjectCommand({
        Bucket: source.bucket,
        Key: `${source.prefix}ml_run_summary/data/experiment_id=2/deep/er/part-1.parquet`,
      }),
    );

    const report = await syncPrefix(options());

    expect(report).toMatchObject({
      complete: true,
      copied: { objects: 1 },
      deleted: { objects: 1 },
      unchanged: { objects: 1 },
    });
    await expectMirrored();
  });

  it('reports without changing anything in a dry run', async () => {
    const { source, destination, options } = await mirroredPair(NESTED);
    await putAll(source, { 'ml_run_summary/metadata/v2.metadata.json': '{"format-version":2,"v":2}' });
    await putAll(destination, { 'ml_run_summary/stray.txt': 'not in the source' });

    const report = await syncPrefix(options({ dryRun: true }));

    expect(report).toMatchObject({ dryRun: true, copied: { objects: 1 }, deleted: { objects: 1 } });
    expect((await contents(destination)).has('ml_run_summary/metadata/v2.metadata.json')).toBe(false);
    expect((await contents(destination)).has('ml_run_summary/stray.txt')).toBe(true);
  });

  it('stops at its deadline with deletions held back, and a second run resumes to an exact mirror', async () => {
    const { source, destination, options, expectMirrored } = await mirroredPair(NESTED);
    await putAll(destination, { 'ml_run_summary/stray.txt': 'not in the source' });
    await putAll(
      source,
      Object.fromEntries(
        Array.from({ length: 12 }, (_, i) => [`ml_iteration_features/data/batch/f-${i}.parquet`, `file ${i}`]),
      ),
    );
    let allowed = 3; // the clock runs out after three copies have started
    const report = await syncPrefix(options({ transfers: 1, deadline: 1, now: () => (allowed-- > 0 ? 0 : 2) }));

    expect(report.complete).toBe(false);
    expect(report.pending).toBeGreaterThan(0);
    expect(report.deleted.objects).toBe(0);
    expect((await contents(destination)).has('ml_run_summary/stray.txt')).toBe(true);

    const resumed = await syncPrefix(options());

    expect(resumed).toMatchObject({ complete: true, deleted: { objects: 1 } });
    expect(resumed.copied.objects).toBe(12 - report.copied.objects);
    await expectMirrored();
  });

  it('holds every deletion back when one copy fails, and names the object', async () => {
    const { endpoints, source, destination, options, expectMirrored } = await mirroredPair(NESTED);
    await putAll(source, { 'ml_run_summary/data/poison.parquet': 'x', 'ml_run_summary/data/fine.parquet': 'y' });
    await putAll(destination, { 'ml_run_summary/stray-2.txt': 'not in the source' });
    const failing = s3ClientFor(endpoints.destination, endpoints.destinationCredentials);
    failing.middlewareStack.add(
      (next) => async (args) => {
        const input = args.input as { Key?: string };
        if (input.Key?.endsWith('poison.parquet'))
          throw Object.assign(new Error('injected write failure'), { name: 'InternalError' });
        return next(args);
      },
      { step: 'initialize', name: 'injectFailure' },
    );

    const report = await syncPrefix(options({ destination: { ...destination, client: failing } }));

    expect(report.complete).toBe(false);
    expect(report.failed).toEqual([
      { key: 'ml_run_summary/data/poison.parquet', error: 'InternalError: injected write failure' },
    ]);
    expect(report.deleted.objects).toBe(0);
    expect((await contents(destination)).has('ml_run_summary/stray-2.txt')).toBe(true);
    expect((await contents(destination)).has('ml_run_summary/data/fine.parquet')).toBe(true);

    await syncPrefix(options());
    await expectMirrored();
  });

  it('resumes a multipart copy interrupted between parts: the half upload is aborted, the rerun completes it', async () => {
    // Two large objects side by side. The larger starts first and is the run's guaranteed copy
    // (every run finishes one); the clock runs out once the smaller one has its first part in.
    const { endpoints, source, destination, options, expectMirrored } = freshPair();
    const first = 'ml_iteration_features/data/big-2.parquet';
    const second = 'ml_iteration_features/data/big-3.parquet';
    await putAll(source, { [first]: randomBytes(LARGE), [second]: randomBytes(LARGE - MIB) });
    let secondParts = 0;
    const counting = s3ClientFor(endpoints.destination, endpoints.destinationCredentials);
    counting.middlewareStack.add(
      (next) => async (args) => {
        const result = await next(args);
        const input = args.input as { PartNumber?: number; Key?: string };
        if (input.PartNumber !== undefined && input.Key?.endsWith(second)) secondParts += 1;
        return result;
      },
      { step: 'initialize', name: 'countParts' },
    );

    const report = await syncPrefix(
      options({
        destination: { ...destination, client: counting },
        transfers: 2,
        transfer: { multipartThreshold: 5 * MIB, partSize: 5 * MIB, partConcurrency: 1 },
        deadline: 1,
        now: () => (secondParts > 0 ? 2 : 0),
      }),
    );

    expect(secondParts).toBe(1);
    expect(report).toMatchObject({ complete: false, pending: 1, failedTotal: 0, copied: { objects: 1 } });
    const open = await destination.client.send(
      new ListMultipartUploadsCommand({ Bucket: destination.bucket, Prefix: destination.prefix }),
    );
    expect(open.Uploads ?? []).toEqual([]);
    const mirrored = await contents(destination);
    expect(mirrored.has(first)).toBe(true);
    expect(mirrored.has(second)).toBe(false);

    await syncPrefix(options());
    await expectMirrored();
  });

  it('finishes at least one copy per run, even with its time already up', async () => {
    const { source, options } = freshPair();
    await putAll(source, { 'ml_run_summary/data/late-1.parquet': 'a', 'ml_run_summary/data/late-2.parquet': 'b' });

    const report = await syncPrefix(options({ deadline: 0, now: () => 1 }));

    expect(report).toMatchObject({ complete: false, copied: { objects: 1 } });
    expect(report.pending).toBeGreaterThanOrEqual(1); // the other file (and any check left undone)
  });
});

describe('health check and credentials', () => {
  const { endpoints, source, destination, options } = freshPair();

  it('passes with both sides reachable and writable, leaving no probe behind', async () => {
    const health = await checkHealth([source, destination]);

    expect(health.map((side) => side.side)).toEqual(['source', 'destination']);
    const left = await contents({ ...destination, prefix: `${destination.prefix}.qp-sync-health/` });
    expect(left.size).toBe(0);
  });

  it.each(['source', 'destination'] as const)('names the %s when its credential is wrong', async (wrong) => {
    const bad = (side: Side, settings: typeof endpoints.source): Side => ({
      ...side,
      client: s3ClientFor(settings, { accessKeyId: 'GK000000000000000000000000', secretAccessKey: '0'.repeat(64) }),
    });
    const pair =
      wrong === 'source'
        ? [bad(source, endpoints.source), destination]
        : [source, bad(destination, endpoints.destination)];

    await expect(checkHealth(pair)).rejects.toMatchObject({
      name: 'SyncEndpointError',
      message: expect.stringMatching(new RegExp(`^${wrong} \\(bucket [a-z-]+\\): list failed`)),
    });
  });

  it('deletes nothing when a side cannot be read', async () => {
    await putAll(destination, { 'ml_run_summary/stray-3.txt': 'not in the source' });
    const before = await contents(destination);
    const badSource: Side = {
      ...source,
      client: s3ClientFor(endpoints.source, {
        accessKeyId: 'GK000000000000000000000000',
        secretAccessKey: '0'.repeat(64),
      }),
    };

    // The store's own refusal of the listing, not some other failure (a TypeError, say).
    await expect(syncPrefix(options({ source: badSource }))).rejects.toMatchObject({ name: 'AccessDenied' });
    expect([...(await contents(destination)).keys()].sort()).toEqual([...before.keys()].sort());
  });

  it('cannot write to the source bucket with the R2 stand-in key (the keys are really separate)', async () => {
    const crossed: Side = { ...source, client: s3ClientFor(endpoints.source, endpoints.destinationCredentials) };

    await expect(checkHealth([crossed])).rejects.toMatchObject({ name: 'SyncEndpointError' });
  });
});
