/**
 * Copies one object between two S3-compatible stores. There is no server-side copy between
 * providers, so the bytes pass through this process: one GET streamed into one PUT for a small
 * object; for a large one, a multipart upload whose parts are ranged GETs of the source streamed
 * into UploadPart, a few at a time. Nothing is buffered whole (memory stays flat whatever the
 * sizes), so the SDK cannot resend a body it already sent: each GET + upload pair is retried here
 * as a whole instead.
 */

import type { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { runPool } from '../../core/pool';
import type { Side } from './listing';
import { unquote } from './listing';
import { type CopyItem, SOURCE_ETAG_META, SOURCE_SIZE_META } from './plan';

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

/** Attempts of one GET + upload pair (the SDK retries each request itself before that). */
const STREAM_ATTEMPTS = 3;

/** The source changed between listing and copy: retrying cannot help; the next run copies it anew. */
class SourceChangedError extends Error {
  override readonly name = 'SourceChangedError';
}

/**
 * GETs bytes `range` (or all) of the source object and hands the open body stream to `upload`.
 * The pair is retried as a whole on failure; a body left unread is closed, so its socket returns.
 */
async function streamRange<T>(
  source: Side,
  key: string,
  length: number,
  range: { start: number; end: number } | undefined,
  upload: (body: Readable) => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt += 1) {
    let body: Readable | undefined;
    try {
      const reply = await source.client.send(
        new GetObjectCommand({
          Bucket: source.bucket,
          Key: source.prefix + key,
          Range: range ? `bytes=${range.start}-${range.end}` : undefined,
        }),
      );
      body = reply.Body as Readable | undefined;
      if (!body) throw new Error(`GET ${source.prefix + key} returned no body`);
      if (reply.ContentLength !== length) {
        throw new SourceChangedError(
          `${source.prefix + key} changed while being copied (${reply.ContentLength} bytes, expected ${length})`,
        );
      }
      return await upload(body);
    } catch (error) {
      body?.destroy();
      if (error instanceof SourceChangedError || attempt >= STREAM_ATTEMPTS) throw error;
      await new Promise((resolve) => setTimeout(resolve, 200 * 2 ** attempt));
    }
  }
}

const isPlainMd5 = (etag: string): boolean => /^[0-9a-f]{32}$/.test(etag);

function provenance(item: CopyItem): Record<string, string> {
  return { [SOURCE_ETAG_META]: item.etag, [SOURCE_SIZE_META]: String(item.size) };
}

/**
 * Copies `item` from source to destination with its provenance in the metadata. `keepGoing`
 * is asked before each part: when it says no, the upload is aborted and OutOfTimeError thrown.
 */
export async function copyObject(
  source: Side,
  destination: Side,
  item: CopyItem,
  settings: TransferSettings,
  keepGoing: () => boolean = () => true,
): Promise<void> {
  const key = destination.prefix + item.key;
  if (item.size <= settings.multipartThreshold) {
    const put = await streamRange(source, item.key, item.size, undefined, (body) =>
      destination.client.send(
        new PutObjectCommand({
          Bucket: destination.bucket,
          Key: key,
          Body: body,
          ContentLength: item.size,
          Metadata: provenance(item),
        }),
      ),
    );
    // A single-part ETag is the MD5 of the bytes on both sides: a free end-to-end check.
    if (isPlainMd5(item.etag) && isPlainMd5(unquote(put.ETag)) && unquote(put.ETag) !== item.etag) {
      // Removed, or its provenance metadata would make the next run take it for a good copy.
      await destination.client.send(new DeleteObjectCommand({ Bucket: destination.bucket, Key: key }));
      throw new Error(
        `${key}: the destination stored other bytes (ETag ${unquote(put.ETag)}, source ${item.etag}); removed`,
      );
    }
    return;
  }
  const partSize = partSizeFor(item.size, settings.partSize);
  const created = await destination.client.send(
    new CreateMultipartUploadCommand({
      Bucket: destination.bucket,
      Key: key,
      Metadata: provenance(item),
    }),
  );
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
      const part = await streamRange(source, item.key, end - start + 1, { start, end }, (body) =>
        destination.client.send(
          new UploadPartCommand({
            Bucket: destination.bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: end - start + 1,
          }),
        ),
      );
      etags[partNumber - 1] = unquote(part.ETag);
    });
    await destination.client.send(
      new CompleteMultipartUploadCommand({
        Bucket: destination.bucket,
        Key: key,
        UploadId: uploadId,
        MultipartUpload: { Parts: etags.map((etag, index) => ({ ETag: `"${etag}"`, PartNumber: index + 1 })) },
      }),
    );
  } catch (error) {
    // An upload left open keeps its parts (and their storage) until aborted.
    await destination.client
      .send(new AbortMultipartUploadCommand({ Bucket: destination.bucket, Key: key, UploadId: uploadId }))
      .catch(() => undefined);
    throw error;
  }
}
