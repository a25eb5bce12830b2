/**
 * S3 clients for the two sides of a sync. R2 speaks the S3 API at
 * https://<account-id>.r2.cloudflarestorage.com with region `auto`; it rejected some of the CRC
 * checksums recent SDKs send by default, so checksums are sent and checked only where an API
 * requires them (the same setting works for Garage and LocalStack).
 */

import { S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';
import { ConfigurationError } from '../../core/errors';
import type { EndpointSettings } from '../contract';
import type { Side } from './listing';

export interface StaticCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
}

export function r2Endpoint(accountId: string): string {
  if (!/^[0-9a-f]{32}$/.test(accountId)) {
    throw new ConfigurationError(`R2 account id: expected 32 hexadecimal digits, got ${JSON.stringify(accountId)}`);
  }
  return `https://${accountId}.r2.cloudflarestorage.com`;
}

/** Uploads whose payload is not hashed for the signature (see s3ClientFor). */
const UNSIGNED_UPLOADS = new Set(['PutObjectCommand', 'UploadPartCommand']);

/**
 * A client for one side; without credentials the SDK's default chain (the Lambda's role) is used.
 *
 * Uploads are signed with UNSIGNED-PAYLOAD: the SDK would otherwise hash every byte with SHA-256
 * for the signature, a CPU cost per byte copied that a Lambda (or a 2-core box also running the
 * store) pays in wall time. Integrity is checked instead where it is free: a single-part copy
 * must come back with the source's ETag (see transfer.ts), and TLS protects the bytes on R2.
 */
export function s3ClientFor(endpoint: EndpointSettings, credentials?: StaticCredentials, maxSockets = 32): S3Client {
  const client = new S3Client({
    region: endpoint.region,
    ...(endpoint.endpoint ? { endpoint: endpoint.endpoint } : {}),
    forcePathStyle: endpoint.forcePathStyle,
    ...(credentials
      ? { credentials: { accessKeyId: credentials.accessKeyId, secretAccessKey: credentials.secretAccessKey } }
      : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // No "Expect: 100-continue" round trip before each large body: a refused upload (bad token)
    // then sends its bytes in vain, but every accepted one - nearly all - starts at once.
    expectContinueHeader: false,
    // Transfers, their parts and the checkers share these; the SDK's default of 50 is enough too,
    // but an explicit bound keeps the socket count predictable.
    requestHandler: { httpsAgent: { maxSockets }, httpAgent: { maxSockets } },
  });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (UNSIGNED_UPLOADS.has(context.commandName ?? '')) {
        const request = args.request as { headers?: Record<string, string> };
        if (request.headers) request.headers['x-amz-content-sha256'] = 'UNSIGNED-PAYLOAD';
      }
      return next(args);
    },
    { step: 'build', name: 'unsignedUploadPayload' },
  );
  return client;
}

/**
 * The S3 error names of a refused credential: an unknown or deleted key (InvalidAccessKeyId), a
 * wrong secret (SignatureDoesNotMatch), a key without the rights (AccessDenied), and R2's and the
 * SDK's names for the same on replies without a body (a HEAD): Unauthorized, Forbidden.
 */
const AUTH_ERROR_NAMES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'Unauthorized',
  'Forbidden',
]);

/** Whether an S3 call failed because the store refused the credential (by name, or HTTP 401/403). */
export function isAuthError(error: unknown): boolean {
  const e = (error ?? {}) as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  return AUTH_ERROR_NAMES.has(e.name ?? '') || AUTH_ERROR_NAMES.has(e.Code ?? '') || status === 401 || status === 403;
}

/**
 * Calls `seen` with every error of `client` that is an auth error (isAuthError), whichever code
 * caught it afterwards: a copy's failure is caught deep in the sync and reported as text, so the
 * client itself is the one place that sees them all. Wraps `send` (not a middleware) so that it
 * also sees the replies of a mocked client.
 */
export function watchAuthErrors(client: S3Client, seen: (error: unknown) => void): S3Client {
  const send = client.send.bind(client) as (...args: unknown[]) => Promise<unknown>;
  const watched = async (...args: unknown[]): Promise<unknown> => {
    try {
      return await send(...args);
    } catch (error) {
      if (isAuthError(error)) seen(error);
      throw error;
    }
  };
  (client as unknown as { send: typeof watched }).send = watched;
  return client;
}

/** The side of a sync for one table folder (or, with table '', the side's own prefix). */
export function sideFor(name: Side['name'], client: S3Client, endpoint: EndpointSettings, table: string): Side {
  return { name, client, bucket: endpoint.bucket, prefix: table ? `${endpoint.prefix}${table}/` : endpoint.prefix };
}

const SecretShape = z.object({ accessKeyId: z.string().min(1), secretAccessKey: z.string().min(1) });

/** The R2 API token, from a Secrets Manager secret holding {"accessKeyId": ..., "secretAccessKey": ...}. */
export async function credentialsFromSecret(
  client: SecretsManagerClient,
  secretId: string,
): Promise<StaticCredentials> {
  const reply = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
  let parsed: unknown;
  try {
    parsed = JSON.parse(reply.SecretString ?? '');
  } catch (cause) {
    throw new ConfigurationError(`secret ${secretId}: expected a JSON object with accessKeyId and secretAccessKey`, {
      cause,
    });
  }
  const result = SecretShape.safeParse(parsed);
  if (!result.success) {
    // Field names only: the values are secret.
    const missing = result.error.issues.map((issue) => issue.path.join('.') || '(secret)').join(', ');
    throw new ConfigurationError(`secret ${secretId}: missing or empty ${missing}`);
  }
  return result.data;
}
