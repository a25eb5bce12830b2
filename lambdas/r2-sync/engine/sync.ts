/**
 * One sync of a prefix, with `rclone sync` semantics: copy what is new or changed, then delete
 * what vanished from the source - only when every copy of this run succeeded, and only when the
 * delete guard (guard.ts) lets the plan's deletions through; a refused plan still gets its copies.
 *
 * Resumable by construction: nothing is remembered between runs but the destination itself. A run
 * stopped by its deadline (or killed) leaves whole objects only (a PUT is atomic, a multipart
 * upload is completed or aborted), so the next run lists both sides again and carries on with
 * what is still missing.
 */
import { DeleteObjectsCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Logger } from '../../core/logger';
import { runPool } from '../../core/pool';
import { HEALTH_PROBE_PREFIX } from '../contract';
import { type DeleteGuard, type DeleteRefusal, deleteRefusal } from './guard';
import { mirrorKind, POINTER_KEYS } from './iceberg-mirror';
import { listSide, type ObjectEntry, type Side } from './listing';
import { copyRewritten, type MirrorSettings, type PointerOutcome, publishPointer } from './mirror-io';
import { type CopyItem, copyWaves, metadataMatches, planSync } from './plan';
import { copyObject, OutOfTimeError, type TransferSettings } from './transfer';

const DELETE_BATCH = 1000;
const FAILURES_KEPT = 20;

export interface SyncOptions {
  readonly source: Side;
  readonly destination: Side;
  /** Objects copied at once (rclone --transfers). */
  readonly transfers: number;
  /** HEAD requests at once for objects whose listing alone cannot decide (rclone --checkers). */
  readonly checkers: number;
  readonly transfer: TransferSettings;
  /** Report what would be copied and deleted, change nothing. */
  readonly dryRun: boolean;
  /** Epoch ms after which no new copy or delete starts (a Lambda's remaining time); one copy always runs. */
  readonly deadline?: number;
  readonly now?: () => number;
  readonly log?: Logger;
  /** Limits on the deletions of one sync. @default none: every planned deletion is made */
  readonly deleteGuard?: DeleteGuard;
  /**
   * Mirror the folder as an Iceberg table of its own (iceberg-mirror.ts): metadata rewritten for
   * the mirror's location, and a pointer to the current metadata file published once all is in.
   * @default none: every object is copied byte for byte
   */
  readonly mirror?: MirrorSettings;
}

export interface Tally {
  objects: number;
  bytes: number;
}

export interface SyncReport {
  /** Everything planned is done: the destination equals the source. */
  readonly complete: boolean;
  readonly dryRun: boolean;
  /** In a dry run: what would be copied / deleted. */
  readonly copied: Tally;
  readonly deleted: Tally;
  readonly unchanged: Tally;
  /** Destination objects whose metadata was read to decide (HEAD requests). */
  readonly checked: number;
  /** Copies not started for lack of time; the next run does them. */
  readonly pending: number;
  readonly failedTotal: number;
  /** The first failures, key and reason. */
  readonly failed: ReadonlyArray<{ key: string; error: string }>;
  readonly durationMs: number;
  /**
   * The delete guard refused this plan's deletions: none was made and `complete` is false (in a
   * dry run, `deleted` still shows the plan's deletions and `complete` stays true).
   */
  readonly deletionsRefused?: DeleteRefusal;
  /** An Iceberg mirror: what became of its current-metadata pointer (absent in a dry run or an incomplete one). */
  readonly pointer?: PointerOutcome;
}

const tally = (entries: readonly { size: number }[]): Tally => ({
  objects: entries.length,
  bytes: entries.reduce((sum, entry) => sum + entry.size, 0),
});

export async function syncPrefix(options: SyncOptions): Promise<SyncReport> {
  const now = options.now ?? Date.now;
  const started = now();
  const log = options.log ?? new Logger('r2-sync');
  const inTime = (): boolean => options.deadline === undefined || now() < options.deadline;
  const failures: { key: string; error: string }[] = [];
  const fail = (key: string, error: unknown): void => {
    failures.push({ key, error: error instanceof Error ? `${error.name}: ${error.message}` : String(error) });
  };

  const mirror = options.mirror;
  const [sourceObjects, destinationObjects] = await Promise.all([
    // The mirror's pointers are its own: a source's (a Hadoop table's version hint) is not copied.
    listSide(options.source, mirror ? [HEALTH_PROBE_PREFIX, ...POINTER_KEYS] : [HEALTH_PROBE_PREFIX]),
    listSide(options.destination, [HEALTH_PROBE_PREFIX]),
  ]);
  const pointers = new Map<string, ObjectEntry>();
  for (const key of mirror ? POINTER_KEYS : []) {
    const entry = destinationObjects.get(key);
    if (entry) pointers.set(key, entry);
    destinationObjects.delete(key);
  }
  const rewritten = (key: string): boolean => mirror !== undefined && mirrorKind(key) !== 'copy';
  /** The mirror's size of each rewritten file, for the manifest lists' manifest_length. */
  const mirroredSizes = new Map([...destinationObjects.values()].map((entry) => [entry.key, entry.size]));
  const plan = planSync(sourceObjects, destinationObjects, rewritten);
  const refusal = options.deleteGuard
    ? deleteRefusal(
        { source: sourceObjects.size, destination: destinationObjects.size, planned: plan.delete.length },
        options.deleteGuard,
      )
    : undefined;
  const unchanged: ObjectEntry[] = [...plan.unchanged];
  const toCopy: CopyItem[] = [...plan.copy];

  // Checks are HEAD requests, far cheaper than copies: they always all run (no deadline), so
  // every run has the whole plan and the copy waves keep their order.
  const checks = await runPool(plan.check, options.checkers, async (entry) => {
    try {
      const head = await options.destination.client.send(
        new HeadObjectCommand({
          Bucket: options.destination.bucket,
          Key: options.destination.prefix + entry.key,
        }),
      );
      const location = rewritten(entry.key) ? mirror?.locations.target : undefined;
      if (metadataMatches(entry, head.Metadata, location)) unchanged.push(entry);
      else toCopy.push({ ...entry, reason: 'content-changed' });
    } catch (error) {
      fail(entry.key, error);
    }
  });
  /** Copies and deletions this run did not get to (out of time, or held back behind a failure). */
  let pending = 0;
  log.info('sync planned', {
    source: sourceObjects.size,
    destination: destinationObjects.size,
    copy: toCopy.length,
    delete: plan.delete.length,
    unchanged: unchanged.length,
    checked: checks.started,
    ...(refusal ? { deletionsRefused: refusal } : {}),
  });

  if (options.dryRun) {
    // The plan as it is, plus the guard's verdict on it; a dry run is complete (it changes nothing).
    const planned = report(options, started, now(), {
      copied: tally(toCopy),
      deleted: tally(plan.delete),
      unchanged,
      checked: checks.started,
      pending,
      failures,
    });
    return refusal ? { ...planned, deletionsRefused: refusal } : planned;
  }

  const copied: CopyItem[] = [];
  // Every run starts - and finishes - at least one copy, even when listing alone used up its
  // time: so each run makes progress, and a sync that needs many runs cannot stall.
  let copiesStarted = 0;
  let guaranteed: CopyItem | undefined;
  const mayStartCopy = (): boolean => {
    if (copiesStarted > 0 && !inTime()) return false;
    copiesStarted += 1;
    return true;
  };
  for (const wave of copyWaves(toCopy)) {
    // A later wave (Iceberg metadata) waits until every earlier one (the data it points to) is in.
    if (failures.length > 0 || pending > 0) {
      pending += wave.length;
      continue;
    }
    let interrupted = 0;
    const result = await runPool(
      wave,
      options.transfers,
      async (item) => {
        try {
          guaranteed ??= item;
          if (mirror && rewritten(item.key)) {
            await copyRewritten(options.source, options.destination, item, mirror, mirroredSizes);
          } else {
            await copyObject(
              options.source,
              options.destination,
              item,
              options.transfer,
              item === guaranteed ? () => true : inTime,
            );
          }
          copied.push(item);
        } catch (error) {
          if (error instanceof OutOfTimeError) interrupted += 1;
          else fail(item.key, error);
        }
      },
      mayStartCopy,
    );
    pending += wave.length - result.started + interrupted;
  }

  // Every file the current metadata names is in the mirror now: the pointer may name it. Before
  // the deletions, which only remove what the current metadata no longer names.
  let pointer: PointerOutcome | undefined;
  if (mirror && failures.length === 0 && pending === 0 && !(refusal && sourceObjects.size === 0)) {
    try {
      pointer = await publishPointer(
        options.source,
        options.destination,
        sourceObjects.keys(),
        pointers,
        mirror,
        now,
        log,
      );
    } catch (error) {
      fail(POINTER_KEYS[0], error);
    }
  }

  const deleted: ObjectEntry[] = [];
  if (refusal) {
    log.warn('deletions refused by the delete guard', { ...refusal });
  } else if (failures.length === 0 && pending === 0) {
    for (let first = 0; first < plan.delete.length; first += DELETE_BATCH) {
      // A run that copied nothing still deletes one batch, for the same progress guarantee.
      if (!inTime() && (copiesStarted > 0 || first > 0)) {
        pending += plan.delete.length - first;
        break;
      }
      const batch = plan.delete.slice(first, first + DELETE_BATCH);
      try {
        const reply = await options.destination.client.send(
          new DeleteObjectsCommand({
            Bucket: options.destination.bucket,
            Delete: { Objects: batch.map((entry) => ({ Key: options.destination.prefix + entry.key })), Quiet: true },
          }),
        );
        const refused = new Map((reply.Errors ?? []).map((error) => [error.Key, `${error.Code}: ${error.Message}`]));
        for (const entry of batch) {
          const why = refused.get(options.destination.prefix + entry.key);
          if (why) fail(entry.key, new Error(`delete refused: ${why}`));
          else deleted.push(entry);
        }
      } catch (error) {
        for (const entry of batch) fail(entry.key, error);
      }
    }
  } else if (plan.delete.length > 0) {
    log.warn('deletions held back: not every copy of this run succeeded', {
      deletions: plan.delete.length,
      failed: failures.length,
      pending,
    });
  }

  return report(options, started, now(), {
    copied: tally(copied),
    deleted: tally(deleted),
    unchanged,
    checked: checks.started,
    pending,
    failures,
    refusal,
    pointer,
  });
}

function report(
  options: SyncOptions,
  started: number,
  ended: number,
  parts: {
    copied: Tally;
    deleted: Tally;
    unchanged: ObjectEntry[];
    checked: number;
    pending: number;
    failures: { key: string; error: string }[];
    refusal?: DeleteRefusal;
    pointer?: PointerOutcome;
  },
): SyncReport {
  return {
    complete: parts.failures.length === 0 && parts.pending === 0 && !parts.refusal,
    dryRun: options.dryRun,
    copied: parts.copied,
    deleted: parts.deleted,
    unchanged: tally(parts.unchanged),
    checked: parts.checked,
    pending: parts.pending,
    failedTotal: parts.failures.length,
    failed: parts.failures.slice(0, FAILURES_KEPT),
    durationMs: ended - started,
    ...(parts.refusal ? { deletionsRefused: parts.refusal } : {}),
    ...(parts.pointer ? { pointer: parts.pointer } : {}),
  };
}
