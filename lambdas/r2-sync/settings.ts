/**
 * The r2-sync Lambdas' settings: SYNC_SETTINGS (JSON, checked at module load) and the R2 token's
 * secret, read on first use and kept for the container's life - until R2 refuses it. The source
 * side uses the function's own role.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Environment, readJsonEnv, requireEnv } from '../core/env';
import { SyncEndpointError } from '../core/errors';
import { Logger } from '../core/logger';
import { SYNC_ENV, SyncSettings } from './contract';
import { credentialsFromSecret, s3ClientFor, watchAuthErrors } from './engine/clients';

export function readSyncSettings(env: Environment): SyncSettings {
  return readJsonEnv(env, SYNC_ENV.settings, SyncSettings);
}

interface Prepared<E, C, R> {
  readonly run: (event: E, context: C) => Promise<R>;
  readonly clients: { readonly source: S3Client; readonly destination: S3Client };
  /** Auth errors the destination returned during the invocation under way. */
  readonly refused: unknown[];
}

const errorText = (error: unknown): string =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);

/**
 * Wraps a step core so that its clients are built on the first invocation (the secret is read
 * then) and reused. A rotated R2 token would otherwise break every invocation until a cold start,
 * so when an invocation fails and the destination refused the credential during it (isAuthError:
 * InvalidAccessKeyId, SignatureDoesNotMatch, AccessDenied, 401/403), the secret is read again,
 * the clients rebuilt and the invocation's work run once more (both steps are safe to repeat:
 * each starts from fresh listings). Refused again, it fails with a SyncEndpointError naming the
 * secret and saying a refresh was tried. A failure without an auth error is rethrown as it is.
 */
export function withSyncClients<E, C, R>(
  env: Environment,
  settings: SyncSettings,
  core: (clients: { source: S3Client; destination: S3Client }) => (event: E, context: C) => Promise<R>,
  log: Logger = new Logger('r2-sync'),
): (event: E, context: C) => Promise<R> {
  const secretArn = requireEnv(env, SYNC_ENV.credentialsSecret);
  const maxSockets = settings.transfers * settings.partConcurrency + settings.checkers;
  let ready: Promise<Prepared<E, C, R>> | undefined;

  const prepare = async (): Promise<Prepared<E, C, R>> => {
    const credentials = await credentialsFromSecret(new SecretsManagerClient({}), secretArn);
    const refused: unknown[] = [];
    const clients = {
      source: s3ClientFor(settings.source, undefined, maxSockets),
      destination: watchAuthErrors(s3ClientFor(settings.destination, credentials, maxSockets), (error) =>
        refused.push(error),
      ),
    };
    return { run: core(clients), clients, refused };
  };
  const load = (): Promise<Prepared<E, C, R>> => {
    const loading = ready ?? prepare();
    ready = loading;
    // A failed secret read is not cached: the next invocation tries again.
    loading.catch(() => {
      if (ready === loading) ready = undefined;
    });
    return loading;
  };

  return async (event, context) => {
    const first = await load();
    first.refused.length = 0;
    try {
      return await first.run(event, context);
    } catch (error) {
      if (first.refused.length === 0) throw error;
      log.warn('the destination refused the R2 token: reading its secret again and retrying once', {
        secret: secretArn,
        refusal: errorText(first.refused[0]),
        error: errorText(error),
      });
      ready = undefined;
      first.clients.source.destroy();
      first.clients.destination.destroy();
      const fresh = await load();
      fresh.refused.length = 0;
      try {
        return await fresh.run(event, context);
      } catch (retryError) {
        if (fresh.refused.length === 0) throw retryError;
        throw new SyncEndpointError(
          `destination (bucket ${settings.destination.bucket}): the R2 token was refused ` +
            `(${errorText(fresh.refused[0])}) even after secret ${secretArn} was read again once; ` +
            'check or rotate the token stored there',
          { cause: retryError },
        );
      }
    }
  };
}
