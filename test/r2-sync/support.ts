/**
 * The two real S3 endpoints of the sync tests: the local data plane's Garage, once with the
 * pipeline's key (source: the `features` bucket) and once with the R2 stand-in's own key
 * (destination: the `qp-data` bucket). Tests fail, not skip, when the data plane is not up.
 */
import { randomUUID } from 'node:crypto';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { EndpointSettings } from '../../lambdas/r2-sync/contract';
import { type StaticCredentials, s3ClientFor, sideFor } from '../../lambdas/r2-sync/engine/clients';
import type { Side } from '../../lambdas/r2-sync/engine/listing';

const REQUIRED = [
  'QP_S3_ENDPOINT',
  'QP_S3_REGION',
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'QP_R2_ENDPOINT',
  'QP_R2_BUCKET',
  'QP_R2_ACCESS_KEY_ID',
  'QP_R2_SECRET_ACCESS_KEY',
] as const;

export interface Endpoints {
  readonly source: EndpointSettings;
  readonly destination: EndpointSettings;
  readonly sourceCredentials: StaticCredentials;
  readonly destinationCredentials: StaticCredentials;
}

/** Both endpoints, each test run under its own prefix so runs never see each other's objects. */
export function localEndpoints(prefix = `sync-test-${randomUUID().slice(0, 8)}/`): Endpoints {
  const missing = REQUIRED.filter((name) => !process.env[name]);
  if (missing.length) {
    throw new Error(
      `${missing.join(', ')} not set: start the data plane and load ~/.local/state/quantum-pipeline/dataplane.env (npm test does both)`,
    );
  }
  const env = process.env as Record<(typeof REQUIRED)[number], string>;
  return {
    source: {
      bucket: 'features',
      prefix,
      endpoint: env.QP_S3_ENDPOINT,
      region: env.QP_S3_REGION,
      forcePathStyle: true,
    },
    destination: {
      bucket: env.QP_R2_BUCKET,
      prefix,
      endpoint: env.QP_R2_ENDPOINT,
      region: env.QP_S3_REGION,
      forcePathStyle: true,
    },
    sourceCredentials: { accessKeyId: env.AWS_ACCESS_KEY_ID, secretAccessKey: env.AWS_SECRET_ACCESS_KEY },
    destinationCredentials: { accessKeyId: env.QP_R2_ACCESS_KEY_ID, secretAccessKey: env.QP_R2_SECRET_ACCESS_KEY },
  };
}

export function sides(endpoints: Endpoints): { source: Side; destination: Side } {
  return {
    source: sideFor('source', s3ClientFor(endpoints.source, endpoints.sourceCredentials), endpoints.source, ''),
    destination: sideFor(
      'destination',
      s3ClientFor(endpoints.destination, endpoints.destinationCredentials),
      endpoints.destination,
      '',
    ),
  };
}

export async function putAll(side: Side, objects: Record<string, string | Uint8Array>): Promise<void> {
  for (const [key, body] of Object.entries(objects)) {
    await side.client.send(new PutObjectCommand({ Bucket: side.bucket, Key: side.prefix + key, Body: body }));
  }
}

/** Every object under the side's prefix: relative key -> content. */
export async function contents(side: Side): Promise<Map<string, Buffer>> {
  const result = new Map<string, Buffer>();
  let token: string | undefined;
  do {
    const page = await side.client.send(
      new ListObjectsV2Command({ Bucket: side.bucket, Prefix: side.prefix, ContinuationToken: token }),
    );
    for (const object of page.Contents ?? []) {
      const reply = await side.client.send(new GetObjectCommand({ Bucket: side.bucket, Key: object.Key! }));
      result.set(object.Key!.slice(side.prefix.length), Buffer.from(await reply.Body!.transformToByteArray()));
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return result;
}

export async function removeAll(client: S3Client, bucket: string, prefix: string): Promise<void> {
  for (;;) {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
    const keys = (page.Contents ?? []).map((object) => ({ Key: object.Key! }));
    if (keys.length === 0) return;
    await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
  }
}
