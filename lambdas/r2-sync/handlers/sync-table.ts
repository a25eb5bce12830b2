/** Lambda entry of the sync of one table (core: ../steps/sync-table.ts); settings checked at load. */
import type { Context, Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { TableProgress } from '../contract';
import { readSyncSettings, withSyncClients } from '../settings';
import { createSyncTable } from '../steps/sync-table';

const settings = readSyncSettings(process.env);
const log = new Logger('r2-sync-table');

export const handler: Handler<unknown, TableProgress> = withLambdaContext(
  log,
  withSyncClients(
    process.env,
    settings,
    (clients) => {
      const sync = createSyncTable({ settings, clients, log });
      return (event: unknown, context: Context) => sync(event, context);
    },
    log,
  ),
);
