/**
 * Promises of the R2 mirror that the real stores cannot be made to break: a destination that
 * stores other bytes than it was sent, and the per-container cache of the R2 token. The S3 and
 * Secrets Manager APIs are mocked here with their real reply shapes; the happy paths run against
 * Garage in sync.integration.test.ts.
 */

import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { DeleteObjectCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import type { SyncSettings } from '../../lambdas/r2-sync/contract';
import type { Side } from '../../lambdas/r2-sync/engine/listing';
import { copyObject, MIB } from '../../lambdas/r2-sync/engine/transfer';
import { withSyncClients } from '../../lambdas/r2-sync/settings';
import { syncSettings as sharedSyncSettings } from './fixtures';

const s3 = mockClient(S3Client);
const secrets = mockClient(SecretsManagerClient);
afterEach(() => {
  s3.reset();
  secrets.reset();
});

const bytes = Buffer.from('parquet bytes of one data file');
const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');
const source: Side = {
  name: 'source',
  client: new S3Client({ region: 'eu-west-1' }),
  bucket: 'features',
  prefix: 'warehouse/ns/t/',
};
const destination: Side = {
  name: 'destination',
  client: new S3Client({ region: 'auto' }),
  bucket: 'qp-data',
  prefix: 'features/t/',
};
const item = { key: 'data/a.parquet', size: bytes.length, etag: md5(bytes), reason: 'new' as const };
const settings = { multipartThreshold: 16 * MIB, partSize: 8 * MIB, partConcurrency: 2 };

describe('copyObject, single part', () => {
  it('removes a copy whose ETag is not the MD5 of the source bytes, and fails naming both ETags', async () => {
    // Prepare: the GET returns the real bytes, the PUT answers with another MD5.
    s3.on(GetObjectCommand, { Bucket: 'features', Key: 'warehouse/ns/t/data/a.parquet' }).callsFake(() => ({
      Body: Readable.from([bytes]),
      ContentLength: bytes.length,
    }));
    const stored = md5(Buffer.from('other bytes'));
    s3.on(PutObjectCommand).resolves({ ETag: `"${stored}"` });
    s3.on(DeleteObjectCommand).resolves({});

    // Act
    const copying = copyObject(source, destination, item, settings);

    // Assess
    await expect(copying).rejects.toThrow(
      `features/t/data/a.parquet: the destination stored other bytes (ETag ${stored}, source ${item.etag}); removed`,
    );
    const deletes = s3.commandCalls(DeleteObjectCommand);
    expect(deletes.map((call) => call.args[0].input)).toEqual([
      { Bucket: 'qp-data', Key: 'features/t/data/a.parquet' },
    ]);
  });

  it('keeps a copy whose ETag matches, with the source ETag and size as metadata', async () => {
    s3.on(GetObjectCommand).callsFake(() => ({ Body: Readable.from([bytes]), ContentLength: bytes.length }));
    s3.on(PutObjectCommand).resolves({ ETag: `"${item.etag}"` });

    await copyObject(source, destination, item, settings);

    expect(s3.commandCalls(DeleteObjectCommand)).toHaveLength(0);
    const put = s3.commandCalls(PutObjectCommand)[0].args[0].input;
    expect(put).toMatchObject({
      Bucket: 'qp-data',
      Key: 'features/t/data/a.parquet',
      ContentLength: bytes.length,
      Metadata: { 'qp-source-etag': item.etag, 'qp-source-size': String(bytes.length) },
    });
  });
});

describe('withSyncClients', () => {
  const syncSettings: SyncSettings = { ...sharedSyncSettings, tables: ['ml_run_summary'] };
  const env = { R2_CREDENTIALS_SECRET_ARN: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:r2-token' };
  const destinationKey = async (clients: { destination: S3Client }) =>
    (await clients.destination.config.credentials()).accessKeyId;

  it('reads the R2 token once per container and hands every invocation the same clients', async () => {
    secrets
      .on(GetSecretValueCommand, { SecretId: env.R2_CREDENTIALS_SECRET_ARN })
      .resolves({ SecretString: '{"accessKeyId":"AK","secretAccessKey":"SK"}' });
    const seen: S3Client[] = [];
    const handler = withSyncClients(env, syncSettings, (clients) => async (event: number) => {
      seen.push(clients.destination);
      return `${event}:${await destinationKey(clients)}`;
    });

    const replies = [await handler(1, {}), await handler(2, {}), await handler(3, {})];

    expect(replies).toEqual(['1:AK', '2:AK', '3:AK']);
    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(1);
    expect(new Set(seen).size).toBe(1);
  });

  it('does not cache a failed secret read: the next invocation reads it again', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejectsOnce(Object.assign(new Error('rate exceeded'), { name: 'ThrottlingException' }))
      .resolves({ SecretString: '{"accessKeyId":"AK2","secretAccessKey":"SK2"}' });
    const handler = withSyncClients(env, syncSettings, (clients) => async () => destinationKey(clients));

    await expect(handler(undefined, {})).rejects.toThrow('rate exceeded');
    await expect(handler(undefined, {})).resolves.toBe('AK2');
    await expect(handler(undefined, {})).resolves.toBe('AK2');

    expect(secrets.commandCalls(GetSecretValueCommand)).toHaveLength(2);
  });
});
