/**
 * The report step at the end of the feature pipeline: reads both run summaries and job 2's report
 * data, renders the page and writes s3://<bucket>/reports/<run id>.html. It never fails the
 * pipeline: any error is logged and returned as `written: false` (the notification still goes out).
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Logger } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import type { RunStateStore } from '../../vqe-batch/state-store';
import { reportKey, WriteBatchReportEvent, WriteReportEvent, type WriteReportResult } from '../contract';
import { loadBatch, loadPipelineRun, pipelineRunView } from '../load';
import { render } from '../render';

export interface WriteReportDeps {
  readonly s3: S3Client;
  readonly bucket: string;
  readonly summaryUri: string;
  /** The AWS console's link to the page (AWS only; absent on a local endpoint). */
  readonly consoleUrl?: (bucket: string, key: string) => string;
  readonly now?: () => Date;
  readonly log?: Logger;
}

/** Renders and stores the page of one run; returns where it is. */
export async function writePipelineReport(
  deps: WriteReportDeps,
  runId: string,
  failure?: { error: string; cause: string },
): Promise<{ uri: string; bytes: number; html: string }> {
  const inputs = await loadPipelineRun(deps.s3, deps.summaryUri, runId, { now: deps.now?.(), failure });
  const html = render(pipelineRunView(inputs));
  const key = reportKey(runId);
  await deps.s3.send(
    new PutObjectCommand({
      Bucket: deps.bucket,
      Key: key,
      Body: html,
      ContentType: 'text/html; charset=utf-8',
      CacheControl: 'no-cache',
    }),
  );
  return { uri: `s3://${deps.bucket}/${key}`, bytes: Buffer.byteLength(html), html };
}

export function createWriteReport(deps: WriteReportDeps) {
  const log = deps.log ?? new Logger('write-report');
  return async (event: unknown): Promise<WriteReportResult> => {
    const { runId, failure } = parseEvent(WriteReportEvent, event, 'write-report');
    const key = reportKey(runId);
    const uri = `s3://${deps.bucket}/${key}`;
    try {
      const written = await writePipelineReport(deps, runId, failureOf(failure));
      log.info('run report written', { runId, uri, bytes: written.bytes, failed: Boolean(failure) });
      return { written: true, uri, ...(deps.consoleUrl ? { url: deps.consoleUrl(deps.bucket, key) } : {}) };
    } catch (error) {
      // The report is an extra: the run's outcome must not depend on it.
      const message = `${(error as Error).name}: ${(error as Error).message}`;
      log.error('run report not written', { runId, uri, error: message });
      return { written: false, uri, error: message.slice(0, 1000) };
    }
  };
}

/** The page's words for a Catch's $.failure. */
function failureOf(failure: { Error?: string; Cause?: string } | undefined) {
  return failure ? { error: failure.Error ?? 'unknown error', cause: failure.Cause ?? '' } : undefined;
}

/** The S3 console page of the object: one click from the notification to the report, behind the console's sign-in. */
export function consoleUrlFor(region: string) {
  return (bucket: string, key: string) =>
    `https://${region}.console.aws.amazon.com/s3/object/${encodeURIComponent(bucket)}?region=${encodeURIComponent(region)}&prefix=${encodeURIComponent(key)}`;
}

/**
 * The batch report step (WriteBatchReport and WriteBatchFailureReport of the VQE batch state
 * machine): lanes, durations and, once a pipeline run has processed the batch, its physics, to
 * s3://<bucket>/reports/<batch id>.html. Never throws, as the run report.
 */
export function createWriteBatchReport(deps: WriteReportDeps & { readonly store: RunStateStore }) {
  const log = deps.log ?? new Logger('write-batch-report');
  return async (event: unknown): Promise<WriteReportResult> => {
    const { batchId, failure } = parseEvent(WriteBatchReportEvent, event, 'write-batch-report');
    const key = reportKey(batchId.replace(/[^A-Za-z0-9._:-]/g, '_'));
    const uri = `s3://${deps.bucket}/${key}`;
    try {
      const html = render(
        await loadBatch(deps.store, deps.s3, deps.summaryUri, batchId, deps.now?.(), failureOf(failure)),
      );
      await deps.s3.send(
        new PutObjectCommand({ Bucket: deps.bucket, Key: key, Body: html, ContentType: 'text/html; charset=utf-8' }),
      );
      log.info('batch report written', { batchId, uri, bytes: Buffer.byteLength(html), failed: Boolean(failure) });
      return { written: true, uri, ...(deps.consoleUrl ? { url: deps.consoleUrl(deps.bucket, key) } : {}) };
    } catch (error) {
      const message = `${(error as Error).name}: ${(error as Error).message}`;
      log.error('batch report not written', { batchId, uri, error: message });
      return { written: false, uri, error: message.slice(0, 1000) };
    }
  };
}
