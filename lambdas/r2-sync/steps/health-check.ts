/**
 * First state of "r2 sync": validates the console/trigger input against the deployed tables,
 * then checks that both sides are reachable, readable and writable.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import { InvalidInputError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { parseEvent, parseInput } from '../../core/validation';
import { HealthCheckEvent, SyncInput, type SyncRun, type SyncSettings } from '../contract';
import { sideFor } from '../engine/clients';
import { checkHealth } from '../engine/health';

export interface SyncClients {
  readonly source: S3Client;
  readonly destination: S3Client;
}

export function createSyncHealthCheck({
  settings,
  clients,
  log = new Logger('r2-sync-health-check'),
}: {
  settings: SyncSettings;
  clients: SyncClients;
  log?: Logger;
}) {
  return async (event: unknown): Promise<SyncRun> => {
    const request = parseEvent(HealthCheckEvent, event, 'health-check');
    // The console sends {} or nothing for "all tables".
    const raw = request.input ?? {};
    const input = parseInput(SyncInput, raw, { knownKeys: { '': Object.keys(SyncInput.shape) } });
    const tables = input.tables ?? settings.tables;
    const unknown = tables.filter((table) => !settings.tables.includes(table));
    if (unknown.length > 0) {
      throw new InvalidInputError(
        `tables: ${JSON.stringify(unknown)} ${unknown.length === 1 ? 'is' : 'are'} not synced by this deployment (it syncs ${settings.tables.join(', ')})`,
      );
    }
    const run: SyncRun = {
      runId: request.executionName,
      tables: [...new Set(tables)],
      dryRun: input.dryRun ?? false,
      trigger: input.trigger ?? 'console',
      allowEmptySource: input.allowEmptySource ?? false,
    };
    const runLog = log.with({ runId: run.runId });
    const health = await checkHealth([
      sideFor('source', clients.source, settings.source, ''),
      sideFor('destination', clients.destination, settings.destination, ''),
    ]);
    runLog.info('both sides healthy', {
      health,
      tables: run.tables,
      dryRun: run.dryRun,
      trigger: run.trigger,
      allowEmptySource: run.allowEmptySource,
    });
    return run;
  };
}
