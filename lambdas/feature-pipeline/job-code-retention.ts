/**
 * Keeps the last N versions of the Spark job code in s3://<artifacts>/spark-jobs/<version>/ and
 * deletes older ones. Runs at deploy time (a custom resource after the upload), so the bucket
 * never grows by one version per code change forever, while the version a job may still be
 * running, and a few to roll back to, stay.
 */
import { DeleteObjectsCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';

/** A version folder's name: 16 hex digits (spark-jobs/build.py). Other folders are never touched. */
const VERSION = /^[0-9a-f]{16}$/;
/** DeleteObjects takes at most 1,000 keys. */
const DELETE_BATCH = 1000;

export const RetentionRequest = z.object({
  bucket: z.string().min(1),
  /** The folder holding one sub-folder per version, ending in '/' ('spark-jobs/'). */
  prefix: z.string().regex(/^([^/]+\/)+$/, 'expected a key prefix ending in "/"'),
  /** Versions kept, the running one included. */
  keep: z.number().int().min(1),
  /** The version the jobs run now: kept whatever its age. */
  current: z.string().regex(VERSION, 'expected 16 hex digits'),
});
export type RetentionRequest = z.infer<typeof RetentionRequest>;

export interface VersionFolder {
  readonly version: string;
  /** The newest LastModified of its objects: when that version was last deployed. */
  readonly deployedAt: Date;
  readonly keys: readonly string[];
}

export interface RetentionResult {
  readonly kept: string[];
  readonly deleted: string[];
  readonly deletedObjects: number;
}

/** The versions to delete: all but the current one and the newest others, `keep` in all. */
export function versionsToPrune(folders: readonly VersionFolder[], keep: number, current: string): string[] {
  const others = folders
    .filter((f) => f.version !== current)
    .sort((a, b) => b.deployedAt.getTime() - a.deployedAt.getTime() || a.version.localeCompare(b.version));
  return others.slice(Math.max(keep - 1, 0)).map((f) => f.version);
}

/** Every version folder under the prefix, with its objects (the listing is small: four files per version). */
export async function listVersionFolders(s3: S3Client, bucket: string, prefix: string): Promise<VersionFolder[]> {
  const folders = new Map<string, { deployedAt: Date; keys: string[] }>();
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    for (const object of page.Contents ?? []) {
      const [version, ...rest] = (object.Key ?? '').slice(prefix.length).split('/');
      if (!VERSION.test(version) || rest.length === 0) continue;
      const folder = folders.get(version) ?? { deployedAt: new Date(0), keys: [] };
      const modified = object.LastModified ?? new Date(0);
      if (modified > folder.deployedAt) folder.deployedAt = modified;
      folder.keys.push(object.Key as string);
      folders.set(version, folder);
    }
  }
  return [...folders].map(([version, f]) => ({ version, deployedAt: f.deployedAt, keys: f.keys }));
}

export class JobCodeRetentionError extends Error {
  override readonly name = 'JobCodeRetentionError';
}

export async function pruneJobCode(s3: S3Client, request: RetentionRequest): Promise<RetentionResult> {
  const folders = await listVersionFolders(s3, request.bucket, request.prefix);
  const prune = new Set(versionsToPrune(folders, request.keep, request.current));
  const keys = folders.filter((f) => prune.has(f.version)).flatMap((f) => f.keys);
  for (let i = 0; i < keys.length; i += DELETE_BATCH) {
    const batch = keys.slice(i, i + DELETE_BATCH);
    const result = await s3.send(
      new DeleteObjectsCommand({
        Bucket: request.bucket,
        Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    const failed = result.Errors ?? [];
    if (failed.length) {
      throw new JobCodeRetentionError(
        `could not delete ${failed.length} object(s) of old job code, first ${failed[0].Key}: ${failed[0].Code} ${failed[0].Message}`,
      );
    }
  }
  return {
    kept: folders.map((f) => f.version).filter((v) => !prune.has(v)),
    deleted: [...prune],
    deletedObjects: keys.length,
  };
}
