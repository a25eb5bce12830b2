/**
 * One poll of a running job. Past its timeout the job is cancelled here, before the error, so a
 * timed-out run never leaves a job behind (the state machine's own timeout would run nothing).
 * Each poll also publishes the job's elapsed time (metric JobElapsedSeconds), so the per-job SLA
 * alarm fires while a job hangs, not only once its run has ended.
 */
import { InvalidInputError, SparkJobTimeoutError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { type MetricEmitter, metricEmitterFromEnv } from '../../core/metrics';
import { parseEvent } from '../../core/validation';
import type { SparkBackend } from '../backends/types';
import { FINAL_JOB_STATES, type JobStatus, JobStatusEvent, SUMMARY_JOB_NAME } from '../contract';

/** JobStatus.detail's limit (the contract's). */
const DETAIL_LIMIT = 4000;

/** The first line (what ended the job) and as much of the end (the log tail) as fit `limit`. */
export function keepLeadAndEnd(text: string, limit: number): string {
  if (text.length <= limit) return text;
  const lead = text.split('\n', 1)[0].slice(0, Math.floor(limit / 4));
  const room = limit - lead.length - 5;
  return `${lead}\n...\n${text.slice(-room)}`;
}

export interface StatusDeps {
  readonly backend: SparkBackend;
  readonly now?: () => Date;
  readonly log?: Logger;
  /** @default EMF lines on standard output, Stack from QP_STACK_NAME (none without it) */
  readonly metrics?: MetricEmitter;
}

export function createJobStatus({
  backend,
  now = () => new Date(),
  log = new Logger('job-status'),
  metrics = metricEmitterFromEnv(process.env, { log }),
}: StatusDeps) {
  return async (event: unknown): Promise<JobStatus> => {
    const { job } = parseEvent(JobStatusEvent, event, 'job-status');
    const submittedAt = Date.parse(job.submittedAt);
    if (Number.isNaN(submittedAt)) {
      throw new InvalidInputError(
        `job-status event: job.submittedAt: expected an ISO 8601 time, got ${JSON.stringify(job.submittedAt)}`,
      );
    }
    const jobLog = log.with({ runId: job.runId, jobId: job.jobId, kind: job.kind, backend: job.backend });
    const status = await backend.describe(job.jobId);
    const elapsedSeconds = Math.max(0, Math.round((now().getTime() - submittedAt) / 1000));
    // Per attempt, from its submission, like the timeout: a hung attempt crosses the SLA alarm's threshold.
    metrics.batch(SUMMARY_JOB_NAME[job.kind], { RunId: job.runId }).put('jobElapsedSeconds', elapsedSeconds).flush();
    if (!FINAL_JOB_STATES.has(status.state) && elapsedSeconds > job.timeoutSeconds) {
      // Cancel first, so a timed-out run leaves nothing running. Should the cancel itself fail
      // (backend unreachable), that error goes up instead: the task's Retry polls again, which
      // retries the cancel, and the failure path's cancel-job step tries once more after that.
      const cancel = await backend.cancel(job.jobId);
      jobLog.error('job timed out', { elapsedSeconds, timeoutSeconds: job.timeoutSeconds, cancel });
      throw new SparkJobTimeoutError(
        `${job.kind} job ${job.jobId} still ${status.backendState} after ${elapsedSeconds}s (limit ${job.timeoutSeconds}s); ` +
          `cancel: ${cancel.note}`,
      );
    }
    const result: JobStatus = {
      state: status.state,
      backendState: status.backendState,
      elapsedSeconds,
      // Always a string: the state machine's Fail state quotes it as the cause.
      detail: keepLeadAndEnd(status.detail ?? `${job.backend} job ${status.backendState}`, DETAIL_LIMIT),
    };
    jobLog.info('job polled', { state: result.state, backendState: result.backendState, elapsedSeconds });
    return result;
  };
}
