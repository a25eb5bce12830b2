/**
 * Reads the run summary a finished Spark job wrote (<summaryUri>/<job>/<runId>.json), checks it
 * against the contract, and returns a compact outcome that fits any Step Functions payload.
 */
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { RunSummaryError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { describeIssues, parseEvent } from '../../core/validation';
import { type JobOutcome, type PipelineSettings, ReadSummaryEvent, RunSummary, SUMMARY_JOB_NAME } from '../contract';

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
}: {
  s3: S3Client;
  settings: PipelineSettings;
  log?: Logger;
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
