/**
 * The batch's progress: per lane done / failed / timed out / pending / in progress and an ETA,
 * read from the run states in S3. The state machine's last step (its output, and the detail of
 * the "VQE Batch Finished" event) and the `batch:progress` CLI both use it.
 */
import { z } from 'zod';
import { InvalidInputError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import { type BatchProgress, BatchRef } from '../contract';
import type { Lane } from '../plan';
import { batchProgress } from '../progress';
import type { RunStateStore } from '../state-store';

export interface BatchSummary extends BatchProgress {
  /**
   * Records of this batch's runs arrived in raw-results (`records` > 0, counted by CheckRun
   * below each run's own prefix): the feature pipeline has new input.
   */
  readonly producedRecords: boolean;
}

const SummaryEvent = z.object({ batch: BatchRef }).passthrough();

/** Progress of a stored batch, by id. */
export async function readBatchProgress(store: RunStateStore, batchId: string, now: number): Promise<BatchSummary> {
  const record = await store.readBatch(batchId);
  if (!record) throw new InvalidInputError(`batch ${batchId}: no such batch (it was a dry run, or the id is wrong)`);
  const planned: Record<string, string[]> = {};
  for (const lane of Object.keys(record.lanes) as Lane[])
    planned[lane] = (await store.readPlan(batchId, lane)).map((run) => run.key);
  const states = await store.readRuns(Object.values(planned).flat());
  const progress = batchProgress(record, planned, states, now);
  return { ...progress, producedRecords: progress.records > 0 };
}

export function createBatchSummary({
  store,
  now = Date.now,
  log = new Logger('vqe-batch-summary'),
}: {
  store: RunStateStore;
  now?: () => number;
  log?: Logger;
}) {
  return async (event: unknown): Promise<BatchSummary> => {
    const { batch } = parseEvent(SummaryEvent, event, 'summary');
    const summary = await readBatchProgress(store, batch.batchId, now());
    log
      .with({ batchId: summary.batchId })
      .info('batch progress', { totals: summary.totals, etaSeconds: summary.etaSeconds, finished: summary.finished });
    return summary;
  };
}
