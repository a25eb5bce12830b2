/**
 * Data-quality findings of a run summary -> "Data Quality Finding" events on the stack's own bus
 * (PutEvents), one event per finding, which the alert rule turns into a readable SNS message
 * (infra/feature-pipeline/quality-findings.ts). The Spark jobs decide which gates fired; this
 * module checks, sizes and delivers what they found.
 *
 * Every event stays far below EventBridge's 256 KB entry limit (ENTRY_BUDGET_BYTES: offending ids
 * are dropped from the end, then the message is cut, until it fits), and a request carries at most
 * 10 entries, as PutEvents allows. Entries PutEvents reports as failed are sent again; what still
 * fails ends in FindingsPublishError, so the execution fails and its failure alert goes out: a
 * finding is never lost without a person hearing of it.
 */
import { PutEventsCommand, type PutEventsCommandOutput, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { Logger } from '../core/logger';
import {
  type DataQualityFinding,
  FINDING_EVENT_DETAIL_TYPE,
  type FindingEventDetail,
  type RunSummary,
  type SparkJobKind,
  SUMMARY_EVENT_SOURCE,
} from './contract';

/** PutEvents' own limits: 10 entries and 256 KB per request. */
export const MAX_ENTRIES_PER_REQUEST = 10;
export const PUT_EVENTS_LIMIT_BYTES = 256 * 1024;
/** What one event may take: 4 gates per job fit a request with room to spare. */
export const ENTRY_BUDGET_BYTES = 32 * 1024;
const OFFENDING_IN_TEXT = 5;
const SEND_ATTEMPTS = 3;

/** What publishing needs of the EventBridge client: PutEvents (EventBridgeClient satisfies it). */
export interface PutEventsSender {
  send(command: PutEventsCommand): Promise<PutEventsCommandOutput>;
}

/** Some findings could not be put on the bus after SEND_ATTEMPTS; the message names them and the error codes. */
export class FindingsPublishError extends Error {
  override readonly name = 'FindingsPublishError';
}

export interface FindingSource {
  readonly kind: SparkJobKind;
  readonly runId: string;
  /** s3://… of the run summary the findings come from. */
  readonly summaryUri: string;
}

export interface FindingsPublisher {
  /** Puts one event per finding of `summary`; resolves with how many were put. */
  publish(summary: RunSummary, source: FindingSource): Promise<number>;
}

/** "a, b, c (and 7 more)": the first few offending ids on one line. */
export function offendingText(offending: readonly string[], total: number): string {
  if (total === 0 && offending.length === 0) return 'none named';
  const shown = offending.slice(0, OFFENDING_IN_TEXT);
  const more = Math.max(total, offending.length) - shown.length;
  return `${shown.join(', ')}${more > 0 ? ` (and ${more} more)` : ''}`;
}

export function findingDetail(
  finding: DataQualityFinding,
  summary: RunSummary,
  source: FindingSource,
): FindingEventDetail {
  return {
    runId: source.runId,
    job: source.kind,
    batchId: summary.batch_id,
    gate: finding.gate,
    severity: finding.severity,
    message: finding.message,
    offending: finding.offending,
    offendingTotal: finding.offending_total,
    offendingText: offendingText(finding.offending, finding.offending_total),
    summaryUri: source.summaryUri,
  };
}

/** An entry's size as EventBridge counts it: UTF-8 bytes of Source, DetailType, Detail and Resources (+14 for Time). */
export function entrySize(entry: PutEventsRequestEntry): number {
  const bytes = (text: string | undefined) => (text ? Buffer.byteLength(text, 'utf8') : 0);
  return (
    (entry.Time ? 14 : 0) +
    bytes(entry.Source) +
    bytes(entry.DetailType) +
    bytes(entry.Detail) +
    (entry.Resources ?? []).reduce((sum, r) => sum + bytes(r), 0)
  );
}

/** The PutEvents entry of one finding, within `budget` bytes. */
export function findingEntry(
  detail: FindingEventDetail,
  busName: string,
  budget = ENTRY_BUDGET_BYTES,
): PutEventsRequestEntry {
  const entry = (d: FindingEventDetail): PutEventsRequestEntry => ({
    EventBusName: busName,
    Source: SUMMARY_EVENT_SOURCE,
    DetailType: FINDING_EVENT_DETAIL_TYPE,
    Detail: JSON.stringify(d),
  });
  let fitted = detail;
  while (entrySize(entry(fitted)) > budget && fitted.offending.length > 0) {
    const offending = fitted.offending.slice(0, Math.floor(fitted.offending.length / 2));
    fitted = { ...fitted, offending, offendingText: offendingText(offending, fitted.offendingTotal) };
  }
  if (entrySize(entry(fitted)) > budget) {
    // Only the texts are left to cut: each to a share of the budget (JSON escaping may double a character).
    const share = Math.floor(budget / 8);
    fitted = {
      ...fitted,
      message: `${fitted.message.slice(0, share)}…`,
      offendingText: fitted.offendingText.slice(0, share),
    };
  }
  return entry(fitted);
}

export function createFindingsPublisher({
  client,
  busName,
  log = new Logger('quality-findings'),
}: {
  client: PutEventsSender;
  busName: string;
  log?: Logger;
}): FindingsPublisher {
  return {
    async publish(summary, source) {
      const details = (summary.findings ?? []).map((f) => findingDetail(f, summary, source));
      for (const d of details) {
        const fields = {
          runId: d.runId,
          job: d.job,
          gate: d.gate,
          offendingTotal: d.offendingTotal,
          message: d.message,
        };
        if (d.severity === 'error') log.error('data-quality finding', fields);
        else log.warn('data-quality finding', fields);
      }
      const entries = details.map((d) => findingEntry(d, busName));
      for (let start = 0; start < entries.length; start += MAX_ENTRIES_PER_REQUEST) {
        await putAll(client, entries.slice(start, start + MAX_ENTRIES_PER_REQUEST), log);
      }
      if (entries.length > 0)
        log.info('data-quality findings published', { runId: source.runId, count: entries.length, busName });
      return entries.length;
    },
  };
}

/** Puts `entries` (one request's worth), sending again those the response reports failed. */
async function putAll(client: PutEventsSender, entries: PutEventsRequestEntry[], log: Logger): Promise<void> {
  let pending = entries;
  let errors: string[] = [];
  for (let attempt = 1; attempt <= SEND_ATTEMPTS && pending.length > 0; attempt += 1) {
    let reply: PutEventsCommandOutput;
    try {
      reply = await client.send(new PutEventsCommand({ Entries: pending }));
    } catch (cause) {
      errors = [`${(cause as Error).name}: ${(cause as Error).message}`];
      log.warn('PutEvents failed', { attempt, error: errors[0] });
      continue;
    }
    // The response lists one result per entry, in order; a failed one has an ErrorCode and no EventId.
    const results = reply.Entries ?? [];
    const failed = pending.filter((_, i) => !results[i]?.EventId || results[i]?.ErrorCode);
    errors = results.filter((r) => r.ErrorCode).map((r) => `${r.ErrorCode}: ${r.ErrorMessage ?? ''}`.trim());
    if (failed.length > 0) log.warn('PutEvents rejected entries', { attempt, failed: failed.length, errors });
    pending = failed;
  }
  if (pending.length > 0) {
    const gates = pending.map((e) => (JSON.parse(e.Detail ?? '{}') as { gate?: string }).gate).join(', ');
    throw new FindingsPublishError(
      `${pending.length} data-quality finding(s) (${gates}) could not be put on event bus ${entries[0].EventBusName} ` +
        `after ${SEND_ATTEMPTS} attempts: ${errors.join('; ') || 'no event id returned'}`,
    );
  }
}
