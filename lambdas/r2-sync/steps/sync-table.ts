/**
 * One invocation of the sync of one table. It stops starting new copies when the Lambda's time
 * runs short and returns `complete: false`; the state machine invokes it again, and it resumes
 * from a fresh listing of both sides. Failed copies or deletions throw SyncIncompleteError, which
 * the state machine retries the same way.
 */
import type { Context } from 'aws-lambda';
import { SyncIncompleteError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import { type SyncSettings, SyncTableEvent, type TableProgress, type TallyShape } from '../contract';
import { sideFor } from '../engine/clients';
import { type SyncReport, syncPrefix } from '../engine/sync';
import { MIB } from '../engine/transfer';
import type { SyncClients } from './health-check';

const add = (a: TallyShape | undefined, b: TallyShape): TallyShape => ({
  objects: (a?.objects ?? 0) + b.objects,
  bytes: (a?.bytes ?? 0) + b.bytes,
});

export function createSyncTable({
  settings,
  clients,
  now = Date.now,
  log = new Logger('r2-sync-table'),
}: {
  settings: SyncSettings;
  clients: SyncClients;
  now?: () => number;
  log?: Logger;
}) {
  return async (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<TableProgress> => {
    const { run, table, progress } = parseEvent(SyncTableEvent, event, 'sync-table');
    const tableLog = log.with({ runId: run.runId, table });
    const report: SyncReport = await syncPrefix({
      source: sideFor('source', clients.source, settings.source, table),
      destination: sideFor('destination', clients.destination, settings.destination, table),
      transfers: settings.transfers,
      checkers: settings.checkers,
      transfer: {
        partSize: settings.partSizeMiB * MIB,
        multipartThreshold: settings.multipartThresholdMiB * MIB,
        partConcurrency: settings.partConcurrency,
      },
      dryRun: run.dryRun,
      deadline: now() + context.getRemainingTimeInMillis() - settings.safetyMarginSeconds * 1000,
      now,
      log: tableLog,
    });
    tableLog.info('sync invocation ended', { ...report });
    if (report.failedTotal > 0) {
      const first = report.failed
        .slice(0, 3)
        .map((failure) => `${failure.key}: ${failure.error}`)
        .join('; ');
      throw new SyncIncompleteError(
        `${table}: ${report.failedTotal} object(s) failed (${first}); ` +
          `${report.copied.objects} copied, deletions held back; the next attempt resumes`,
      );
    }
    return {
      table,
      complete: report.complete,
      invocations: (progress?.invocations ?? 0) + 1,
      copied: add(progress?.copied, report.copied),
      deleted: add(progress?.deleted, report.deleted),
      // Unchanged and pending describe the latest listing, not a sum.
      unchanged: report.unchanged,
      checked: (progress?.checked ?? 0) + report.checked,
      pending: report.pending,
      durationMs: (progress?.durationMs ?? 0) + report.durationMs,
    };
  };
}
