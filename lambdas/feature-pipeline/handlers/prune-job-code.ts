/**
 * Custom resource (deploy time, behind the CDK Provider framework) that keeps the last N versions
 * of the Spark job code (core: ../job-code-retention.ts). Create and Update prune; Delete keeps
 * everything: the bucket's own removal policy decides what happens to the code.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Handler } from 'aws-lambda';
import { z } from 'zod';
import { Logger, withLambdaContext } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import { pruneJobCode, RetentionRequest, type RetentionResult } from '../job-code-retention';

const log = new Logger('prune-job-code');
const s3 = new S3Client({});

/** What CloudFormation sends through the Provider framework; its property values arrive as strings. */
const RetentionEvent = z.object({
  RequestType: z.enum(['Create', 'Update', 'Delete']),
  PhysicalResourceId: z.string().optional(),
  ResourceProperties: z.object({
    Bucket: z.string(),
    Prefix: z.string(),
    Keep: z.coerce.number(),
    CurrentVersion: z.string(),
  }),
});

interface ProviderResponse {
  readonly PhysicalResourceId: string;
  readonly Data?: { readonly kept: string; readonly deleted: string };
}

export async function onEvent(event: unknown, client: S3Client = s3): Promise<ProviderResponse> {
  const {
    RequestType,
    PhysicalResourceId,
    ResourceProperties: p,
  } = parseEvent(RetentionEvent, event, 'prune-job-code');
  const id = PhysicalResourceId ?? `job-code-retention:${p.Bucket}/${p.Prefix}`;
  if (RequestType === 'Delete') return { PhysicalResourceId: id };
  const request = parseEvent(
    RetentionRequest,
    { bucket: p.Bucket, prefix: p.Prefix, keep: p.Keep, current: p.CurrentVersion },
    'prune-job-code',
  );
  const result: RetentionResult = await pruneJobCode(client, request);
  log.info('job code versions pruned', { ...result, current: request.current });
  return { PhysicalResourceId: id, Data: { kept: result.kept.join(','), deleted: result.deleted.join(',') } };
}

export const handler: Handler<unknown, ProviderResponse> = withLambdaContext(log, (event) => onEvent(event));
