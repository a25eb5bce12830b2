/**
 * Counts what a run delivered: the objects below its own key prefix in raw-results. Listing is
 * strongly consistent on S3, and a run's records are written (direct) or uploaded (host-upload)
 * before its command ends, so one listing after the end sees them all.
 */
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';

export interface RecordCounter {
  /** The objects below `prefix` in `bucket` (folder placeholders, keys ending in /, left out). */
  count(bucket: string, prefix: string): Promise<number>;
}

export class S3RecordCounter implements RecordCounter {
  constructor(private readonly s3: S3Client) {}

  async count(bucket: string, prefix: string): Promise<number> {
    let count = 0;
    for await (const page of paginateListObjectsV2({ client: this.s3 }, { Bucket: bucket, Prefix: prefix })) {
      for (const { Key } of page.Contents ?? []) if (Key && !Key.endsWith('/')) count += 1;
    }
    return count;
  }
}
