/** Client settings R2 needs, and the R2 token read from Secrets Manager (mocked at the SDK boundary). */

import { GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  GetSecretValueCommand,
  ResourceNotFoundException,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { credentialsFromSecret, r2Endpoint, s3ClientFor, sideFor } from '../../lambdas/r2-sync/engine/clients';

const secrets = mockClient(SecretsManagerClient);
afterEach(() => secrets.reset());

describe('s3ClientFor', () => {
  it('sends checksums only where required, path style, region auto, for an R2 endpoint', async () => {
    const client = s3ClientFor({
      bucket: 'qp-data',
      prefix: 'features/',
      endpoint: r2Endpoint('0123456789abcdef0123456789abcdef'),
      region: 'auto',
      forcePathStyle: true,
    });

    expect(await client.config.requestChecksumCalculation()).toBe('WHEN_REQUIRED');
    expect(await client.config.responseChecksumValidation()).toBe('WHEN_REQUIRED');
    expect(await client.config.region()).toBe('auto');
    expect(client.config.forcePathStyle).toBe(true);
    const endpoint = await client.config.endpoint?.();
    expect(endpoint?.hostname).toBe('0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com');
  });

  it('uses the given static credentials', async () => {
    const client = s3ClientFor(
      { bucket: 'b', prefix: '', region: 'auto', forcePathStyle: true },
      { accessKeyId: 'AK', secretAccessKey: 'SK' },
    );

    expect(await client.config.credentials()).toMatchObject({ accessKeyId: 'AK', secretAccessKey: 'SK' });
  });
});

describe('upload signing', () => {
  async function signedHeaders(command: PutObjectCommand | GetObjectCommand): Promise<Record<string, string>> {
    const client = s3ClientFor(
      { bucket: 'b', prefix: '', endpoint: 'http://127.0.0.1:9', region: 'auto', forcePathStyle: true },
      { accessKeyId: 'AK', secretAccessKey: 'SK' },
    );
    let headers: Record<string, string> = {};
    client.middlewareStack.add(
      (_next) => async (args) => {
        headers = (args.request as { headers: Record<string, string> }).headers;
        throw new Error('captured');
      },
      { step: 'finalizeRequest', priority: 'low', name: 'capture' },
    );
    await expect(client.send(command as never)).rejects.toThrow('captured');
    return headers;
  }

  it('signs uploads without hashing the payload, and leaves other requests alone', async () => {
    const put = await signedHeaders(new PutObjectCommand({ Bucket: 'b', Key: 'k', Body: new Uint8Array(1024) }));
    expect(put['x-amz-content-sha256']).toBe('UNSIGNED-PAYLOAD');
    expect(put.authorization).toMatch(/SignedHeaders=.*x-amz-content-sha256/);
    const get = await signedHeaders(new GetObjectCommand({ Bucket: 'b', Key: 'k' }));
    expect(get['x-amz-content-sha256']).not.toBe('UNSIGNED-PAYLOAD');
  });
});

describe('r2Endpoint', () => {
  it('refuses an account id that is not 32 hex digits, naming it', () => {
    expect(() => r2Endpoint('my-account')).toThrow('R2 account id: expected 32 hexadecimal digits, got "my-account"');
  });
});

describe('sideFor', () => {
  it('puts each table in its own folder under the side prefix', () => {
    const side = sideFor(
      'destination',
      s3ClientFor({ bucket: 'qp-data', prefix: 'features/', region: 'auto', forcePathStyle: true }),
      { bucket: 'qp-data', prefix: 'features/', region: 'auto', forcePathStyle: true },
      'ml_run_summary',
    );

    expect(side).toMatchObject({ name: 'destination', bucket: 'qp-data', prefix: 'features/ml_run_summary/' });
  });
});

describe('credentialsFromSecret', () => {
  it('reads accessKeyId and secretAccessKey from the secret JSON', async () => {
    secrets
      .on(GetSecretValueCommand, { SecretId: 'r2-token' })
      .resolves({ SecretString: '{"accessKeyId":"AK","secretAccessKey":"SK"}' });

    await expect(credentialsFromSecret(new SecretsManagerClient({ region: 'eu-west-1' }), 'r2-token')).resolves.toEqual(
      { accessKeyId: 'AK', secretAccessKey: 'SK' },
    );
  });

  it('names the missing fields, never the values', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: '{"accessKeyId":"AK-SECRET-VALUE"}' });

    const reading = credentialsFromSecret(new SecretsManagerClient({ region: 'eu-west-1' }), 'r2-token');

    await expect(reading).rejects.toThrow('secret r2-token: missing or empty secretAccessKey');
    await expect(
      credentialsFromSecret(new SecretsManagerClient({ region: 'eu-west-1' }), 'r2-token'),
    ).rejects.not.toThrow('AK-SECRET-VALUE');
  });

  it('refuses a secret that is not JSON with a ConfigurationError', async () => {
    secrets.on(GetSecretValueCommand).resolves({ SecretString: 'AK:SK' });

    await expect(
      credentialsFromSecret(new SecretsManagerClient({ region: 'eu-west-1' }), 'r2-token'),
    ).rejects.toMatchObject({
      name: 'ConfigurationError',
      message: 'secret r2-token: expected a JSON object with accessKeyId and secretAccessKey',
    });
  });

  it('lets a missing secret surface as the SDK error', async () => {
    secrets
      .on(GetSecretValueCommand)
      .rejects(new ResourceNotFoundException({ message: 'no such secret', $metadata: {} }));

    await expect(
      credentialsFromSecret(new SecretsManagerClient({ region: 'eu-west-1' }), 'r2-token'),
    ).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });
});
