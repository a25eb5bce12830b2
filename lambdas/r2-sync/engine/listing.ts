/** Paged listing of one side of a sync: every object under a prefix, by key relative to it. */
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';

export interface ObjectEntry {
  /** Key relative to the side's prefix. */
  readonly key: string;
  readonly size: number;
  /** As the store reports it, without quotes; an MD5 for single-part uploads only. */
  readonly etag: string;
}

export interface Side {
  readonly client: S3Client;
  readonly bucket: string;
  /** Key prefix ending in `/`, or '' for the whole bucket. */
  readonly prefix: string;
  /** Named in errors and reports: `source` or `destination`. */
  readonly name: 'source' | 'destination';
}

export const unquote = (etag: string | undefined): string => (etag ?? '').replace(/^W\//, '').replace(/"/g, '');

/** Every object under the side's prefix (1,000 per page), keyed by relative key. */
export async function listSide(side: Side, excludePrefixes: readonly string[] = []): Promise<Map<string, ObjectEntry>> {
  const entries = new Map<string, ObjectEntry>();
  const listing = { Bucket: side.bucket, Prefix: side.prefix || undefined };
  for await (const page of paginateListObjectsV2({ client: side.client }, listing)) {
    for (const object of page.Contents ?? []) {
      if (!object.Key || object.Key.endsWith('/')) continue; // "folder" markers carry no data
      const key = object.Key.slice(side.prefix.length);
      if (excludePrefixes.some((excluded) => key.startsWith(excluded))) continue;
      entries.set(key, { key, size: object.Size ?? 0, etag: unquote(object.ETag) });
    }
  }
  return entries;
}
