/**
 * Before a sync: each side is reachable, readable and writable. A probe object is written under
 * HEALTH_PROBE_PREFIX, read back and deleted, so a read-only or wrong key is found before any
 * copy starts - and long before a deletion could. The probe lives under the side's prefix, next to
 * (never inside) the table folders, so the functions need no rights beyond that prefix.
 */
import { randomUUID } from 'node:crypto';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { SyncEndpointError } from '../../core/errors';
import { HEALTH_PROBE_PREFIX } from '../contract';
import type { Side } from './listing';

export interface SideHealth {
  readonly side: Side['name'];
  readonly bucket: string;
  readonly latencyMs: number;
}

async function probe(side: Side): Promise<SideHealth> {
  const started = Date.now();
  const key = `${side.prefix}${HEALTH_PROBE_PREFIX}${randomUUID()}`;
  const body = `quantum-pipeline r2 sync health probe ${new Date().toISOString()}`;
  let step = 'list';
  try {
    await side.client.send(
      new ListObjectsV2Command({ Bucket: side.bucket, Prefix: side.prefix || undefined, MaxKeys: 1 }),
    );
    step = 'write';
    await side.client.send(new PutObjectCommand({ Bucket: side.bucket, Key: key, Body: body }));
    step = 'read back';
    const read = await side.client.send(new GetObjectCommand({ Bucket: side.bucket, Key: key }));
    const text = await read.Body?.transformToString();
    if (text !== body) throw new Error('the probe read back differs from what was written');
    step = 'delete';
    await side.client.send(new DeleteObjectCommand({ Bucket: side.bucket, Key: key }));
  } catch (cause) {
    const reason = cause instanceof Error ? `${cause.name}: ${cause.message}` : String(cause);
    throw new SyncEndpointError(`${side.name} (bucket ${side.bucket}): ${step} failed: ${reason}`, { cause });
  }
  return { side: side.name, bucket: side.bucket, latencyMs: Date.now() - started };
}

/** Both sides at once; the error names every side that failed. */
export async function checkHealth(sides: readonly Side[]): Promise<SideHealth[]> {
  const results = await Promise.allSettled(sides.map(probe));
  const failed = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as Error] : []));
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1)
    throw new SyncEndpointError(failed.map((error) => error.message).join('; '), { cause: failed });
  return results.map((result) => (result as PromiseFulfilledResult<SideHealth>).value);
}
