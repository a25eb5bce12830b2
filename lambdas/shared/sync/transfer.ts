/**
 * Copies one object between two S3-compatible stores. There is no server-side copy between
 * providers, so the bytes pass through this process: one GET and one PUT for a small object; for
 * a large one, a multipart upload whose parts are ranged GETs of the source, a few at a time.
 * Each body (whole object or part) is held in memory while it is sent, so the SDK's own retries
 * can send it again; the most memory in use is transfers x partConcurrency x partSize.
 */
import {
  AbortMultipartUploadCommand, CompleteMultipartUploadCommand, CreateMultipartUploadCommand, GetObjectCommand,
  PutObjectCommand, UploadPartCommand,
} from '@aws-sdk/client-s3';
import type { Side } from './listing';
import { unquote } from './listing';
import { type CopyItem, SOURCE_ETAG_META, SOURCE_SIZE_META } from './plan';
import { runPool } from './pool';

export const MIB = 1024 * 1024;
/** S3 and R2: parts of 5 MiB to 5 GiB, at most 10,000 of them. */
const MIN_PART_SIZE = 5 * MIB;
const MAX_PARTS = 10_000;

/** A multipart copy stopped between parts because the run's time is up: pending, not failed. */
export class OutOfTimeError extends Error {
  override readonly name = 'OutOfTimeError';
}

export interface TransferSettings {
  /** Objects larger than this go as multipart uploads. */
  readonly multipartThreshold: number;
  readonly partSize: number;
  /** Parts of one object in flight at once. */
  readonly partConcurrency: number;
}

/** Part size for an object: the configured one, raised in whole MiB when 10,000 parts would not hold it. */
export function partSizeFor(size: number, configured: number): number {
  const needed = Math.ceil(size / MAX_PARTS / MIB) * MIB;
  return Math.max(configured, needed, MIN_PART_SIZE);
}

async function readRange(source: Side, key: string, range?: { start: number; end: number }): Promise<Uint8Array> {
  const reply = await source.client.send(new GetObjectCommand({
    Bucket: source.bucket, Key: source.prefix + key, Range: range ? `bytes=${range.start}-${range.end}` : undefined,
  }));
  if (!reply.Body) throw new Error(`GET ${source.prefix + key} returned no body`);
  return reply.Body.transformToByteArray();
}

function provenance(item: CopyItem): Record<string, string> {
  return { [SOURCE_ETAG_META]: item.etag, [SOURCE_SIZE_META]: String(item.size) };
}

/**
 * Copies `item` from source to destination with its provenance in the metadata. `keepGoing`
 * is asked before each part: when it says no, the upload is aborted and OutOfTimeError thrown.
 */
export async function copyObject(
  source: Side, destination: Side, item: CopyItem, settings: TransferSettings, keepGoing: () => boolean = () => true,
): Promise<void> {
  const key = destination.prefix + item.key;
  if (item.size <= settings.multipartThreshold) {
    const body = await readRange(source, item.key);
    if (body.byteLength !== item.size) {
      throw new Error(`${source.prefix + item.key} changed while being copied (${body.byteLength} bytes, listed ${item.size})`);
    }
    await destination.client.send(new PutObjectCommand({
      Bucket: destination.bucket, Key: key, Body: body, ContentLength: body.byteLength, Metadata: provenance(item),
    }));
    return;
  }
  const partSize = partSizeFor(item.size, settings.partSize);
  const created = await destination.client.send(new CreateMultipartUploadCommand({
    Bucket: destination.bucket, Key: key, Metadata: provenance(item),
  }));
  const uploadId = created.UploadId;
  if (!uploadId) throw new Error(`CreateMultipartUpload for ${key} returned no UploadId`);
  try {
    const count = Math.ceil(item.size / partSize);
    const etags: string[] = new Array(count);
    const numbers = Array.from({ length: count }, (_, index) => index + 1);
    await runPool(numbers, settings.partConcurrency, async (partNumber) => {
      if (!keepGoing()) throw new OutOfTimeError(`stopped before part ${partNumber} of ${key}: out of time`);
      const start = (partNumber - 1) * partSize;
      const end = Math.min(item.size, start + partSize) - 1;
      const body = await readRange(source, item.key, { start, end });
      if (body.byteLength !== end - start + 1) throw new Error(`${source.prefix + item.key} changed while being copied (short part ${partNumber})`);
      const part = await destination.client.send(new UploadPartCommand({
        Bucket: destination.bucket, Key: key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.byteLength,
      }));
      etags[partNumber - 1] = unquote(part.ETag);
    });
    await destination.client.send(new CompleteMultipartUploadCommand({
      Bucket: destination.bucket, Key: key, UploadId: uploadId,
      MultipartUpload: { Parts: etags.map((etag, index) => ({ ETag: `"${etag}"`, PartNumber: index + 1 })) },
    }));
  } catch (error) {
    // An upload left open keeps its parts (and their storage) until aborted.
    await destination.client.send(new AbortMultipartUploadCommand({ Bucket: destination.bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
    throw error;
  }
}
