/** The sync's pure parts: the plan, the copy waves, part sizes and the bounded pool. */
import { describe, expect, it } from 'vitest';
import { runPool } from '../../lambdas/core/pool';
import type { ObjectEntry } from '../../lambdas/r2-sync/engine/listing';
import { copyWaves, metadataMatches, planSync } from '../../lambdas/r2-sync/engine/plan';
import { MIB, partSizeFor } from '../../lambdas/r2-sync/engine/transfer';

const entry = (key: string, size: number, etag: string): ObjectEntry => ({ key, size, etag });
const byKey = (...entries: ObjectEntry[]) => new Map(entries.map((e) => [e.key, e]));

describe('planSync', () => {
  it('copies new and resized objects, keeps equal ones, checks same-size ETag mismatches, deletes what vanished', () => {
    const source = byKey(
      entry('new.parquet', 10, 'a'),
      entry('resized', 20, 'b'),
      entry('same', 30, 'c'),
      entry('multipart', 40, 'd-3'),
      entry('rewritten', 50, 'e2'),
    );
    const destination = byKey(
      entry('resized', 21, 'b'),
      entry('same', 30, 'c'),
      entry('multipart', 40, 'x'),
      entry('rewritten', 50, 'e1'),
      entry('gone', 60, 'f'),
    );

    const plan = planSync(source, destination);

    expect(plan.copy).toEqual([
      { key: 'new.parquet', size: 10, etag: 'a', reason: 'new' },
      { key: 'resized', size: 20, etag: 'b', reason: 'size-changed' },
    ]);
    expect(plan.unchanged.map((e) => e.key)).toEqual(['same']);
    expect(plan.check.map((e) => e.key)).toEqual(['multipart', 'rewritten']);
    expect(plan.delete.map((e) => e.key)).toEqual(['gone']);
  });

  it('never trusts an empty ETag as equal', () => {
    const plan = planSync(byKey(entry('k', 1, '')), byKey(entry('k', 1, '')));

    expect(plan.check.map((e) => e.key)).toEqual(['k']);
  });

  it('matches provenance metadata on ETag and size together', () => {
    const source = entry('k', 5, 'abc-2');

    expect(metadataMatches(source, { 'qp-source-etag': 'abc-2', 'qp-source-size': '5' })).toBe(true);
    expect(metadataMatches(source, { 'qp-source-etag': 'abc-2', 'qp-source-size': '6' })).toBe(false);
    expect(metadataMatches(source, { 'qp-source-etag': 'abd-2', 'qp-source-size': '5' })).toBe(false);
    expect(metadataMatches(source, undefined)).toBe(false);
  });

  it('checks a rewritten key the mirror holds whatever its size, and copies one it lacks', () => {
    const rewritten = (key: string) => key.startsWith('metadata/');
    const source = byKey(entry('metadata/a.avro', 5, 'x'), entry('metadata/b.avro', 5, 'y'), entry('data/c', 1, 'z'));
    const mirror = byKey(entry('metadata/a.avro', 9, 'other'), entry('data/c', 1, 'z'));

    const plan = planSync(source, mirror, rewritten);

    expect(plan.check.map((e) => e.key)).toEqual(['metadata/a.avro']);
    expect(plan.copy.map((e) => [e.key, e.reason])).toEqual([['metadata/b.avro', 'new']]);
    expect(plan.unchanged.map((e) => e.key)).toEqual(['data/c']);
  });

  it('matches a rewritten copy only when it was rewritten for this mirror location', () => {
    const source = entry('k', 5, 'abc');
    const provenance = { 'qp-source-etag': 'abc', 'qp-source-size': '5' };

    expect(metadataMatches(source, { ...provenance, 'qp-mirror-location': 's3://m/t' }, 's3://m/t')).toBe(true);
    expect(metadataMatches(source, { ...provenance, 'qp-mirror-location': 's3://m/old' }, 's3://m/t')).toBe(false);
    expect(metadataMatches(source, provenance, 's3://m/t')).toBe(false);
  });
});

describe('copyWaves', () => {
  it('sends data files first, then manifests, then manifest lists, then the metadata.json roots, largest first in each', () => {
    const item = (key: string, size: number) => ({ key, size, etag: 'e', reason: 'new' as const });
    const waves = copyWaves([
      item('metadata/v2.metadata.json', 1),
      item('data/a.parquet', 5),
      item('metadata/snap-1.avro', 2),
      item('data/b.parquet', 9),
      item('metadata/m0.avro', 3),
      item('metadata/m1.avro', 4),
    ]);

    expect(waves.map((wave) => wave.map((i) => i.key))).toEqual([
      ['data/b.parquet', 'data/a.parquet'],
      ['metadata/m1.avro', 'metadata/m0.avro'],
      ['metadata/snap-1.avro'],
      ['metadata/v2.metadata.json'],
    ]);
  });

  it('leaves out empty waves', () => {
    expect(copyWaves([{ key: 'data/a', size: 1, etag: 'e', reason: 'new' }])).toHaveLength(1);
  });
});

describe('partSizeFor', () => {
  it('keeps the configured size while 10,000 parts hold the object', () => {
    expect(partSizeFor(64 * MIB, 8 * MIB)).toBe(8 * MIB);
  });

  it('raises the size in whole MiB for objects 10,000 parts would not hold', () => {
    expect(partSizeFor(200_000 * MIB, 8 * MIB)).toBe(20 * MIB);
  });

  it('never goes below the 5 MiB minimum of S3 and R2', () => {
    expect(partSizeFor(10 * MIB, 1 * MIB)).toBe(5 * MIB);
  });
});

describe('runPool', () => {
  const tick = () => new Promise((resolve) => setTimeout(resolve, 2));

  it('keeps at most `limit` workers busy and runs every item', async () => {
    let busy = 0;
    let most = 0;
    const done: number[] = [];

    await runPool([1, 2, 3, 4, 5, 6, 7], 3, async (n) => {
      busy += 1;
      most = Math.max(most, busy);
      await tick();
      done.push(n);
      busy -= 1;
    });

    expect(most).toBe(3);
    expect(done.sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('starts nothing new once shouldStart says no, and reports how many started', async () => {
    let budget = 2;
    const result = await runPool(
      [1, 2, 3, 4],
      1,
      async () => {
        await tick();
      },
      () => budget-- > 0,
    );

    expect(result.started).toBe(2);
  });

  it('stops taking items after a failure, waits for the running ones, then rethrows the first error', async () => {
    const finished: number[] = [];
    const run = runPool([1, 2, 3, 4, 5, 6], 2, async (n) => {
      await tick();
      if (n === 2) throw new Error('part 2 failed');
      finished.push(n);
    });

    await expect(run).rejects.toThrow('part 2 failed');
    expect(finished.length).toBeLessThan(5);
  });

  it('refuses a limit below one', async () => {
    await expect(runPool([1], 0, async () => undefined)).rejects.toThrow(
      'limit: expected a positive whole number, got 0',
    );
  });
});
