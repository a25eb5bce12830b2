/**
 * Fault injection in the R2 sync: Garage (both the source and the R2 stand-in live on it) is
 * stopped while the sync's copy wave is under way, then started again. The SyncTable Retry (its
 * pause set longer than the outage) - or, if the retries run out, a rerun - must leave the
 * destination an exact mirror of the source. Run with `npm run test:faults`.
 */
import { randomBytes } from 'node:crypto';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { createLocalPipeline, dataplaneFromEnv } from '../../localstack/embedded/local-pipeline';
import { execute } from '../e2e/harness';
import { contents, localEndpoints, removeAll, sides } from '../r2-sync/support';
import {
  dataplaneHealthy,
  faultCase,
  reportFaults,
  sleep,
  startComponent,
  startLive,
  stateCount,
  stopComponent,
  waitFor,
} from './faults';

const id = randomBytes(4).toString('hex');
const MINUTES = 60_000;
const OBJECTS = 400;
const OUTAGE_MS = 15_000;

const endpoints = localEndpoints(`faults-sync-${id}/`);
const { source, destination } = sides(endpoints);

async function keyCount(side: typeof destination): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const page = await side.client.send(
      new ListObjectsV2Command({ Bucket: side.bucket, Prefix: side.prefix, ContinuationToken: token }),
    );
    count += page.KeyCount ?? 0;
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return count;
}

afterAll(async () => {
  reportFaults();
  if (dataplaneHealthy()) {
    await removeAll(source.client, source.bucket, source.prefix);
    await removeAll(destination.client, destination.bucket, destination.prefix);
  }
});

describe('faults injected in the R2 sync', () => {
  it(
    'Garage stopped during a copy wave, then started: the SyncTable Retry (or a rerun) completes the mirror exactly',
    async () => {
      await faultCase('Garage down during R2 copy', async (record) => {
        // Prepare: 400 objects of 128 KiB in one table, copied one at a time (transfers: 1).
        const body = randomBytes(128 * 1024);
        const keys = Array.from({ length: OBJECTS }, (_, i) => `ml_iteration_features/data/part-${i}.parquet`);
        for (let i = 0; i < keys.length; i += 16) {
          await Promise.all(
            keys.slice(i, i + 16).map((key, j) =>
              source.client.send(
                new PutObjectCommand({
                  Bucket: source.bucket,
                  Key: source.prefix + key,
                  Body: Buffer.concat([Buffer.from(`${i + j}`), body]),
                }),
              ),
            ),
          );
        }
        const pipeline = createLocalPipeline({
          dataplane: dataplaneFromEnv(process.env),
          r2Settings: { source: endpoints.source, destination: endpoints.destination, transfers: 1 },
          // Longer than the outage: the first retry finds Garage back.
          retryOverridesMs: { SyncTable: OUTAGE_MS + 10_000 },
        });
        const sync = pipeline.r2Sync!;
        const live = startLive(sync, { tables: ['ml_iteration_features'] }, `faults-sync-${id}`);

        // Inject: once some objects, not all, reached the destination.
        const copied = await waitFor(
          'the copy wave to start',
          async () => {
            const n = await keyCount(destination);
            return n > 0 ? n : undefined;
          },
          2 * MINUTES,
          20,
        );
        expect(copied).toBeLessThan(OBJECTS);
        stopComponent('garage');
        expect(dataplaneHealthy()).toBe(false);
        record.injectedAt = `copy wave, ${copied}/${OBJECTS} objects copied; S3 down ${OUTAGE_MS / 1000} s`;
        await sleep(OUTAGE_MS);
        startComponent('garage');

        // Recover: the execution's own Retry, or a rerun when it had to give up.
        const first = await live.done;
        const retries = stateCount(live, 'StateRetried', 'SyncTable');
        const deliveries = () => pipeline.bus.deliveries.map((d) => d.message).join('\n');
        if (first.error) {
          expect(deliveries()).toMatch(new RegExp(`R2 sync execution faults-sync-${id} ended FAILED`));
          const rerun = await execute(sync, { tables: ['ml_iteration_features'] }, `faults-sync-${id}-rerun`);
          expect(rerun.error).toBeUndefined();
          record.recoveredBy = `rerun (first run failed after ${retries} SyncTable retries)`;
          record.alert = '"ended FAILED" + R2 Sync Completed';
        } else {
          // The fault hit the run: at least one SyncTable attempt failed and was retried.
          expect(retries).toBeGreaterThanOrEqual(1);
          record.recoveredBy = `SyncTable Retry (${retries} retr${retries === 1 ? 'y' : 'ies'})`;
          record.alert = 'R2 Sync Completed event';
        }
        expect(pipeline.bus.events.some((e) => e['detail-type'] === 'R2 Sync Completed')).toBe(true);

        // Exact mirror: same keys, same bytes, nothing extra.
        const [want, have] = await Promise.all([contents(source), contents(destination)]);
        expect(have.size).toBe(OBJECTS);
        expect([...have.keys()].sort()).toEqual([...want.keys()].sort());
        for (const [key, bytes] of want) expect(have.get(key)?.equals(bytes), key).toBe(true);
        record.rowsExact = `yes (${OBJECTS}/${OBJECTS} objects, bytes equal)`;
      });
    },
    10 * MINUTES,
  );
});
