/**
 * One invocation of the sync of one table. It stops starting new copies when the Lambda's time
 * runs short and returns `complete: false`; the state machine invokes it again, and it resumes
 * from a fresh listing of both sides. Failed copies or deletions throw SyncIncompleteError, which
 * the state machine retries the same way.
 *
 * The delete guard (engine/guard.ts): a plan that would delete more than the deployed limits, or
 * empty the mirror from an empty source listing without the run's allowEmptySource, gets its
 * copies made (invocation after invocation, as usual) and then fails the table with
 * SyncDeleteGuardError, which is not retried; nothing is deleted. A dry run does not fail: its
 * progress carries the refusal as `deletionsRefused`.
 *
 * Each invocation that changed the mirror publishes what it did as metrics per table
 * (ObjectsCopied, BytesCopied, ObjectsDeleted, BytesDeleted, SyncSeconds): summed over a run's
 * invocations they are the run's volume. A dry run changes nothing and publishes nothing.
 */
import type { Context } from 'aws-lambda';
import { SyncDeleteGuardError, SyncIncompleteError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { METRIC_JOBS, type MetricEmitter, metricEmitterFromEnv } from '../../core/metrics';
import { parseEvent } from '../../core/validation';
import { type SyncSettings, SyncTableEvent, type TableProgress, type TallyShape } from '../contract';
import { sideFor } from '../engine/clients';
import { describeRefusal } from '../engine/guard';
import { TableLocations } from '../engine/iceberg-mirror';
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
  metrics = metricEmitterFromEnv(process.env, { log }),
}: {
  settings: SyncSettings;
  clients: SyncClients;
  now?: () => number;
  log?: Logger;
  /** @default EMF lines on standard output, Stack from QP_STACK_NAME (none without it) */
  metrics?: MetricEmitter;
}) {
  return async (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<TableProgress> => {
    const { run, table, progress } = parseEvent(SyncTableEvent, event, 'sync-table');
    const tableLog = log.with({ runId: run.runId, table });
    const source = sideFor('source', clients.source, settings.source, table);
    const destination = sideFor('destination', clients.destination, settings.destination, table);
    const report: SyncReport = await syncPrefix({
      source,
      destination,
      // The mirror is an Iceberg table of its own: its metadata names the mirror's files.
      mirror: { locations: new TableLocations(source.bucket, source.prefix, destination.bucket, destination.prefix) },
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
      deleteGuard: {
        maxDeleteFraction: settings.maxDeleteFraction,
        maxDeleteCount: settings.maxDeleteCount,
        allowEmptySource: run.allowEmptySource,
      },
    });
    tableLog.info('sync invocation ended', { ...report });
    if (!run.dryRun) {
      // Before any failure below: the copies and deletions that succeeded are made either way.
      const where = { Table: table };
      metrics
        .batch(METRIC_JOBS.r2Sync, { RunId: run.runId })
        .put('objectsCopied', report.copied.objects, where)
        .put('bytesCopied', report.copied.bytes, where)
        .put('objectsDeleted', report.deleted.objects, where)
        .put('bytesDeleted', report.deleted.bytes, where)
        .put('syncSeconds', report.durationMs / 1000, where)
        .flush();
    }
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
    // Refused deletions fail the table once its copies are all in (while some are pending, the
    // loop goes on and the next invocation decides again from fresh listings). A dry run reports
    // the refusal instead, next to the plan's counts.
    const refused = report.deletionsRefused ? describeRefusal(table, report.deletionsRefused) : undefined;
    if (refused && !run.dryRun && report.pending === 0) {
      const copied = (progress?.copied.objects ?? 0) + report.copied.objects;
      throw new SyncDeleteGuardError(`${refused}; ${copied} copied, nothing deleted`);
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
      ...(report.pointer && 'metadata' in report.pointer ? { metadata: report.pointer.metadata } : {}),
      ...(refused && run.dryRun
        ? { deletionsRefused: `${refused}; a real run would copy, delete nothing and fail` }
        : {}),
    };
  };
}
