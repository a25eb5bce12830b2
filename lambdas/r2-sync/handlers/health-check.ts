/** Lambda entry of the r2-sync health check (core: ../steps/health-check.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { SyncRun } from '../contract';
import { readSyncSettings, withSyncClients } from '../settings';
import { createSyncHealthCheck } from '../steps/health-check';

const settings = readSyncSettings(process.env);
const log = new Logger('r2-sync-health-check');

export const handler: Handler<unknown, SyncRun> = withLambdaContext(
  log,
  withSyncClients(
    process.env,
    settings,
    (clients) => {
      const check = createSyncHealthCheck({ settings, clients, log });
      return (event: unknown) => check(event);
    },
    log,
  ),
);
