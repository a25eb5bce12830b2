/**
 * The local launchers' half of delivery host-upload (lambdas/vqe-batch/delivery.ts): what the run
 * document does on the GPU host with `aws s3 cp --recursive`, done here with the SDK against the
 * local Garage. The run folder is uploaded once the run exited 0; an upload that fails turns the
 * run's status into RECORDS_UPLOAD_EXIT_CODE, as on the host.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Environment } from '../../../lambdas/core/env';
import { RECORDS_UPLOAD_EXIT_CODE } from '../../../lambdas/vqe-batch/delivery';
import type { RunStatus } from '../../../lambdas/vqe-batch/launcher';

/** Uploads a folder below an S3 prefix. */
export interface RecordsUploader {
  /** Every file below `folder` (dot-files, such as half-written `.x.partial`, left out) to `prefix<relative path>`; returns how many. */
  upload(folder: string, bucket: string, prefix: string): Promise<number>;
}

/** The files below a folder, as paths relative to it with / separators, dot-files and dot-folders left out. */
export function recordFiles(folder: string): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.name.startsWith('.')) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) files.push(relative(folder, path).split(sep).join('/'));
    }
  };
  walk(folder);
  return files.sort();
}

export class S3FolderUploader implements RecordsUploader {
  constructor(private readonly s3: S3Client) {}

  async upload(folder: string, bucket: string, prefix: string): Promise<number> {
    const files = recordFiles(folder);
    for (const file of files) {
      const path = join(folder, file);
      await this.s3.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: `${prefix}${file}`,
          Body: readFileSync(path),
          ContentLength: statSync(path).size,
          ContentType: file.endsWith('.json') ? 'application/json' : 'application/octet-stream',
        }),
      );
    }
    return files.length;
  }
}

/** An uploader to the local data plane: QP_S3_ENDPOINT / QP_S3_REGION and the AWS_* credentials of the environment. */
export function recordsUploaderFromEnv(env: Environment): RecordsUploader {
  return new S3FolderUploader(
    new S3Client({
      ...(env.QP_S3_ENDPOINT ? { endpoint: env.QP_S3_ENDPOINT, forcePathStyle: true } : {}),
      ...(env.QP_S3_REGION ? { region: env.QP_S3_REGION } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
  );
}

/** Where a host-upload run's folder goes, kept beside the run so any later status() can deliver it. */
export interface PendingUpload {
  readonly folder: string;
  readonly bucket: string;
  readonly prefix: string;
}

/**
 * The status of a run that exited, once its folder is delivered: unchanged when the upload
 * succeeds (or there is nothing to upload), RECORDS_UPLOAD_EXIT_CODE with the reason when it fails.
 */
export async function afterUpload(
  exited: Extract<RunStatus, { state: 'exited' }>,
  pending: PendingUpload | undefined,
  uploader: RecordsUploader | undefined,
): Promise<RunStatus> {
  if (exited.exitCode !== 0 || pending === undefined) return exited;
  const target = `s3://${pending.bucket}/${pending.prefix}`;
  try {
    if (!uploader) throw new Error('this launcher has no records uploader');
    await uploader.upload(pending.folder, pending.bucket, pending.prefix);
    return exited;
  } catch (error) {
    return {
      state: 'exited',
      exitCode: RECORDS_UPLOAD_EXIT_CODE,
      stderrTail: exited.stderrTail,
      detail: `the records in ${pending.folder} could not be uploaded to ${target}: ${error instanceof Error ? error.message : String(error)}`,
    };
  }
}
