/**
 * Reads the run summary a finished Spark job wrote (<summaryUri>/<job>/<runId>.json), checks it
 * against the contract, and returns a compact outcome that fits any Step Functions payload. It
 * publishes the summary's numbers as metrics (DurationSeconds, NewRows per table, the file counts,
 * DuplicateExperiments: what the summary has of them), and its data-quality findings as
 * "Data Quality Finding" events (quality-findings.ts).
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { RunSummaryError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { type MetricBatch, type MetricEmitter, metricEmitterFromEnv } from '../../core/metrics';
import { describeIssues, parseEvent } from '../../core/validation';
import {
  type JobOutcome,
  type PipelineSettings,
  ReadSummaryEvent,
  ReprocessOutcome,
  RunSummary,
  SUMMARY_JOB_NAME,
} from '../contract';
import type { FindingsPublisher } from '../quality-findings';

const QUARANTINE_LIMIT = 20;

/** s3://bucket/prefix or s3a://bucket/prefix -> { bucket, prefix } */
export function splitS3Uri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new RunSummaryError(`summary location ${uri} is not an s3:// or s3a:// URI`);
  return { bucket: match[1], prefix: match[2].replace(/\/+$/, '') };
}

export function createReadSummary({
  s3,
  settings,
  log = new Logger('read-summary'),
  metrics = metricEmitterFromEnv(process.env, { log }),
  findings,
}: {
  s3: S3Client;
  settings: PipelineSettings;
  log?: Logger;
  /** @default EMF lines on standard output, Stack from QP_STACK_NAME (none without it) */
  metrics?: MetricEmitter;
  /** Puts the summary's findings on the bus. @default none: each finding is only logged */
  findings?: FindingsPublisher;
}) {
  return async (event: unknown): Promise<JobOutcome> => {
    const { job } = parseEvent(ReadSummaryEvent, event, 'read-summary');
    const { bucket, prefix } = splitS3Uri(settings.summaryUri);
    const key = `${prefix ? `${prefix}/` : ''}${SUMMARY_JOB_NAME[job.kind]}/${job.runId}.json`;
    const where = `s3://${bucket}/${key}`;
    let text: string;
    try {
      const reply = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      text = (await reply.Body?.transformToString('utf-8')) ?? '';
    } catch (cause) {
      const name = (cause as Error).name;
      throw new RunSummaryError(
        name === 'NoSuchKey'
          ? `the ${job.kind} job ${job.jobId} finished but wrote no run summary at ${where}`
          : `reading the run summary ${where}: ${name}: ${(cause as Error).message}`,
        { cause },
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (cause) {
      throw new RunSummaryError(`the run summary ${where} is not JSON: ${text.slice(0, 120)}`, { cause });
    }
    const summary = RunSummary.safeParse(json);
    if (!summary.success)
      throw new RunSummaryError(`the run summary ${where} breaks the contract: ${describeIssues(summary.error, json)}`);
    if (summary.data.run_id !== job.runId) {
      throw new RunSummaryError(`the run summary ${where} belongs to run ${summary.data.run_id}, not ${job.runId}`);
    }
    const s = summary.data;
    const batch = metrics.batch(SUMMARY_JOB_NAME[job.kind], { RunId: job.runId });
    recordSummary(batch, s);
    batch.flush();
    if (findings) await findings.publish(s, { kind: job.kind, runId: job.runId, summaryUri: where });
    else
      for (const f of s.findings ?? [])
        log.warn('data-quality finding (not published: no bus)', { runId: job.runId, ...f });
    const outcome: JobOutcome = {
      kind: job.kind,
      runId: job.runId,
      status: s.status,
      batchId: s.batch_id,
      newRows: s.new_rows,
      tags: s.tags,
      quarantinedTotal: s.quarantined_total,
      quarantined: s.quarantined.slice(0, QUARANTINE_LIMIT),
      durationSeconds: s.duration_seconds,
      summaryUri: where,
    };
    if (s.details.reprocess !== undefined) {
      const reprocess = ReprocessOutcome.safeParse(s.details.reprocess);
      if (!reprocess.success)
        throw new RunSummaryError(
          `the run summary ${where} breaks the contract: details.reprocess ${describeIssues(reprocess.error, s.details.reprocess)}`,
        );
      outcome.reprocess = reprocess.data;
      // The run did what was asked only in part: the person who started it has to start it again.
      if (reprocess.data.status === 'deferred')
        log.warn('reprocess deferred', { runId: job.runId, reason: reprocess.data.reason });
    }
    log.info('run summary read', {
      runId: job.runId,
      jobId: job.jobId,
      kind: job.kind,
      backend: job.backend,
      status: s.status,
      newRows: s.new_rows,
    });
    return outcome;
  };
}

/**
 * The run summary's numbers as metrics. A count the summary lacks is left out, never written as
 * 0: job 2's summary has no file counts and no duplicate count, and a resumed job 1 batch has
 * `files.listed` null (its objects were listed by the run that planned it).
 */
function recordSummary(batch: MetricBatch, s: RunSummary): void {
  batch.put('durationSeconds', s.duration_seconds);
  for (const [table, rows] of Object.entries(s.new_rows)) batch.put('newRows', rows, { Table: table });
  const count = (value: unknown): value is number => typeof value === 'number';
  if (count(s.files.listed)) batch.put('filesListed', s.files.listed);
  if (count(s.files.ingested)) batch.put('filesIngested', s.files.ingested);
  if (count(s.files.quarantined)) batch.put('filesQuarantined', s.files.quarantined);
  if (count(s.details.duplicate_experiments)) batch.put('duplicateExperiments', s.details.duplicate_experiments);
  recordMaintenance(batch, s.details.tables);
}

type Measure = { data_files?: unknown; data_bytes?: unknown; snapshots?: unknown };

/** Table maintenance's per-table figures (details.tables: {before, after}), each that is a number. */
function recordMaintenance(batch: MetricBatch, tables: unknown): void {
  if (typeof tables !== 'object' || tables === null) return;
  const count = (value: unknown): value is number => typeof value === 'number';
  for (const [table, figures] of Object.entries(tables as Record<string, { before?: Measure; after?: Measure }>)) {
    const { before = {}, after = {} } = figures ?? {};
    const dims = { Table: table };
    if (count(before.data_files)) batch.put('dataFilesBefore', before.data_files, dims);
    if (count(after.data_files)) batch.put('dataFilesAfter', after.data_files, dims);
    if (count(before.data_bytes)) batch.put('dataBytesBefore', before.data_bytes, dims);
    if (count(after.data_bytes)) batch.put('dataBytesAfter', after.data_bytes, dims);
    if (count(before.snapshots)) batch.put('snapshotsBefore', before.snapshots, dims);
    if (count(after.snapshots)) batch.put('snapshotsAfter', after.snapshots, dims);
  }
}
