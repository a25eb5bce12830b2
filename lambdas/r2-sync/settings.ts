/**
 * The r2-sync Lambdas' settings: SYNC_SETTINGS (JSON, checked at module load) and the R2 token's
 * secret, read once per container on first use. The source side uses the function's own role.
 */
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { type Environment, readJsonEnv, requireEnv } from '../core/env';
import { SYNC_ENV, SyncSettings } from './contract';
import { credentialsFromSecret, s3ClientFor } from './engine/clients';

export function readSyncSettings(env: Environment): SyncSettings {
  return readJsonEnv(env, SYNC_ENV.settings, SyncSettings);
}

/** Wraps a step core so that its clients are built on the first invocation (the secret is read then) and reused. */
export function withSyncClients<E, C, R>(
  env: Environment,
  settings: SyncSettings,
  core: (clients: {
    source: ReturnType<typeof s3ClientFor>;
    destination: ReturnType<typeof s3ClientFor>;
  }) => (event: E, context: C) => Promise<R>,
): (event: E, context: C) => Promise<R> {
  const secretArn = requireEnv(env, SYNC_ENV.credentialsSecret);
  const maxSockets = settings.transfers * settings.partConcurrency + settings.checkers;
  let ready: Promise<(event: E, context: C) => Promise<R>> | undefined;
  return async (event, context) => {
    ready ??= credentialsFromSecret(new SecretsManagerClient({}), secretArn).then((credentials) =>
      core({
        source: s3ClientFor(settings.source, undefined, maxSockets),
        destination: s3ClientFor(settings.destination, credentials, maxSockets),
      }),
    );
    // A failed secret read is not cached: the next invocation tries again.
    ready.catch(() => {
      ready = undefined;
    });
    return (await ready)(event, context);
  };
}
