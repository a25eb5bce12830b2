/** Lambda entry of the sync of one table (core: ../steps/sync-table.ts); settings checked at load. */
import type { Context, Handler } from 'aws-lambda';
import type { TableProgress } from '../contract';
import { readSyncSettings, withSyncClients } from '../settings';
import { createSyncTable } from '../steps/sync-table';

const settings = readSyncSettings(process.env);

export const handler: Handler<unknown, TableProgress> = withSyncClients(process.env, settings, (clients) => {
  const sync = createSyncTable({ settings, clients });
  return (event: unknown, context: Context) => sync(event, context);
});
