/**
 * The failure path's clean-up: cancel the job a failed phase leaves behind. It never throws for
 * a missing handle, a finished job or an unreachable backend, because the failure being handled
 * is what the execution must report, not a second one from here.
 */
import { Logger } from '../../core/logger';
import type { SparkBackend } from '../backends/types';
import { CancelJobEvent, type CancelJobResult } from '../contract';

export function createCancelJob({ backend, log = new Logger('cancel-job') }: { backend: SparkBackend; log?: Logger }) {
  return async (event: unknown): Promise<CancelJobResult> => {
    const parsed = CancelJobEvent.safeParse(event ?? {});
    const job = parsed.success ? parsed.data.job : undefined;
    if (!job) {
      log.info('no job to cancel');
      return { cancelled: false, note: 'no job was submitted' };
    }
    const jobLog = log.with({ runId: job.runId, jobId: job.jobId, kind: job.kind, backend: job.backend });
    try {
      const outcome = await backend.cancel(job.jobId);
      jobLog.info('cancel requested', { ...outcome });
      return { ...outcome, jobId: job.jobId };
    } catch (error) {
      jobLog.error('cancel failed', { error });
      return {
        cancelled: false,
        jobId: job.jobId,
        note: `cancel failed: ${(error as Error).name}: ${(error as Error).message}`,
      };
    }
  };
}
