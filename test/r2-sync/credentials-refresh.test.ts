/**
 * A rotated R2 token: the destination's refusal makes the functions read the secret again and
 * retry the invocation once, at the SDK boundary (S3 and Secrets Manager mocked with their real
 * error shapes). Uses the sync-table step itself as the work that is retried.
 */
import {
  DeleteObjectsCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import { isAuthError } from '../../lambdas/r2-sync/engine/clients';
import { withSyncClients } from '../../lambdas/r2-sync/settings';
import { createSyncTable } from '../../lambdas/r2-sync/steps/sync-table';
import { syncSettings } from './fixtures';

const s3 = mockClient(S3Client);
const secrets = mockClient(SecretsManagerClient);
afterEach(() => {
  s3.reset();
  secrets.reset();
});

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:r2-token';
const env = { R2_CREDENTIALS_SECRET_ARN: SECRET };
const quiet = new Logger('test', {}, 'ERROR');
const run = { runId: 'sync-1', tables: ['ml_run_summary'], dryRun: false, trigger: 'console' };
const context = { getRemainingTimeInMillis: () => 600_000 };
const token = (key: string) => ({
  SecretString: JSON.stringify({ accessKeyId: key, secretAccessKey: `${key}-secret` }),
});

/** What R2 (like S3) answers a request signed with a deleted or rotated key. */
const refused = (name: string, status = 403) =>
  new S3ServiceException({
    name,
    message: `${name} from the store`,
    $fault: 'client',
    $metadata: { httpStatusCode: status },
  });

const emptyListing: Partial<ListObjectsV2CommandOutput> = { Contents: [] };

/** The sync-table handler as deployed, with the access key id each invocation's destination client used. */
function syncHandler() {
  const keys: string[] = [];
  const handler = withSyncClients(
    env,
    syncSettings,
    (clients) => {
      const sync = createSyncTable({ settings: syncSettings, clients, log: quiet });
      return async (event: unknown, ctx: typeof context) => {
        keys.push((await clients.destination.config.credentials()).accessKeyId);
        return sync(event, ctx);
      };
    },
    quiet,
  );
  return { handler, keys };
}

describe('a rotated R2 token', () => {
  it.each([
    ['InvalidAccessKeyId', 403],
    ['SignatureDoesNotMatch', 403],
    ['AccessDenied', 403],
    ['Unauthorized', 401],
  ])('reads the secret again after %s from the destination and retries the invocation once', async (name, status) => {
    // Prepare: the container read the old token; R2 refuses it once, the secret now holds the new one.
    secrets.on(GetSecretValueCommand, { SecretId: SECRET }).resolvesOnce(token('OLD')).resolves(token('NEW'));
    s3.on(ListObjectsV2Command, { Bucket: 'features' }).resolves(emptyListing);
    s3.on(ListObjectsV2Command, { Bucket: 'qp-data' }).rejectsOnce(refused(name, status)).resolves(emptyListing);
    const { handler, keys } = syncHandler();

    // Act
    const progress = await handler({ run, table: 'ml_run_summary' }, context);

    // Assess
    expect(progress).toMatchObject({ complete: true, invocations: 1 });
    expect(keys).toEqual(['OLD', 'NEW']);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('keeps the new clients for the invocations after a refresh', async () => {
    // Prepare
    secrets.on(GetSecretValueCommand).resolvesOnce(token('OLD')).resolves(token('NEW'));
    s3.on(ListObjectsV2Command, { Bucket: 'features' }).resolves(emptyListing);
    s3.on(ListObjectsV2Command, { Bucket: 'qp-data' })
      .rejectsOnce(refused('InvalidAccessKeyId'))
      .resolves(emptyListing);
    const { handler, keys } = syncHandler();

    // Act
    await handler({ run, table: 'ml_run_summary' }, context);
    await handler({ run, table: 'ml_run_summary' }, context);

    // Assess
    expect(keys).toEqual(['OLD', 'NEW', 'NEW']);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('refreshes when only a write was refused (the sync reports it as a failed object)', async () => {
    // Prepare: the listings pass, the deletion batch is refused for the old key, the sync catches that as a failed object.
    secrets.on(GetSecretValueCommand).resolvesOnce(token('OLD')).resolves(token('NEW'));
    s3.on(ListObjectsV2Command, { Bucket: 'features' }).resolves(emptyListing);
    s3.on(ListObjectsV2Command, { Bucket: 'qp-data' }).resolves({
      Contents: [{ Key: 'features/ml_run_summary/data/old.parquet', Size: 1, ETag: '"e"' }],
    });
    s3.on(DeleteObjectsCommand).rejectsOnce(refused('SignatureDoesNotMatch')).resolves({});
    const { handler, keys } = syncHandler();

    // Act
    const progress = await handler({ run: { ...run, allowEmptySource: true }, table: 'ml_run_summary' }, context);

    // Assess
    expect(progress).toMatchObject({ complete: true, deleted: { objects: 1 } });
    expect(keys).toEqual(['OLD', 'NEW']);
  });

  it('fails with SyncEndpointError naming the secret when the re-read token is refused too', async () => {
    // Prepare
    secrets.on(GetSecretValueCommand).resolves(token('REVOKED'));
    s3.on(ListObjectsV2Command, { Bucket: 'features' }).resolves(emptyListing);
    s3.on(ListObjectsV2Command, { Bucket: 'qp-data' }).rejects(refused('InvalidAccessKeyId'));
    const { handler, keys } = syncHandler();

    // Act
    const syncing = handler({ run, table: 'ml_run_summary' }, context);

    // Assess
    await expect(syncing).rejects.toMatchObject({
      name: 'SyncEndpointError',
      message:
        'destination (bucket qp-data): the R2 token was refused (InvalidAccessKeyId: InvalidAccessKeyId from the store) ' +
        `even after secret ${SECRET} was read again once; check or rotate the token stored there`,
    });
    expect(keys).toEqual(['REVOKED', 'REVOKED']);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });

  it('re-reads the secret for a refusal of the destination only: not the source (its own role), not other failures', async () => {
    // Prepare: the source refuses, then times out, then the destination refuses the token.
    secrets.on(GetSecretValueCommand).resolvesOnce(token('AK')).resolves(token('AK2'));
    s3.on(ListObjectsV2Command, { Bucket: 'features' })
      .rejectsOnce(refused('AccessDenied'))
      .rejectsOnce(Object.assign(new Error('socket hang up'), { name: 'TimeoutError' }))
      .resolves(emptyListing);
    s3.on(ListObjectsV2Command, { Bucket: 'qp-data' })
      .resolvesOnce(emptyListing)
      .resolvesOnce(emptyListing)
      .rejectsOnce(refused('AccessDenied'))
      .resolves(emptyListing);
    const { handler, keys } = syncHandler();

    // Act
    const sourceRefused = await handler({ run, table: 'ml_run_summary' }, context).catch((error: Error) => error);
    const timedOut = await handler({ run, table: 'ml_run_summary' }, context).catch((error: Error) => error);
    const progress = await handler({ run, table: 'ml_run_summary' }, context);

    // Assess
    expect(sourceRefused).toMatchObject({ name: 'AccessDenied' });
    expect(timedOut).toMatchObject({ name: 'TimeoutError' });
    expect(progress).toMatchObject({ complete: true });
    expect(keys).toEqual(['AK', 'AK', 'AK', 'AK2']);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });
});

describe('isAuthError', () => {
  it('knows the refusals of a credential by name and by HTTP status, and nothing else', () => {
    // Act + Assess
    expect(isAuthError(refused('InvalidAccessKeyId'))).toBe(true);
    expect(isAuthError(refused('Forbidden', 403))).toBe(true);
    expect(isAuthError({ name: 'Unknown', $metadata: { httpStatusCode: 401 } })).toBe(true);
    expect(isAuthError(refused('NoSuchBucket', 404))).toBe(false);
    expect(isAuthError(Object.assign(new Error('slow down'), { name: 'SlowDown' }))).toBe(false);
    expect(isAuthError(undefined)).toBe(false);
  });
});
