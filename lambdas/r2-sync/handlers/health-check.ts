/** Lambda entry of the r2-sync health check (core: ../steps/sync-health-check.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import type { SyncRun } from '../contract';
import { readSyncSettings, withSyncClients } from '../settings';
import { createSyncHealthCheck } from '../steps/health-check';

const settings = readSyncSettings(process.env);

export const handler: Handler<unknown, SyncRun> = withSyncClients(process.env, settings, (clients) => {
  const check = createSyncHealthCheck({ settings, clients });
  return (event: unknown) => check(event);
});
