/** Submits one Spark job of the pipeline and returns the handle the state machine polls with. */
import { type JobHandle, type PipelineSettings, SubmitJobEvent } from '../contract';
import { InvalidInputError } from '../../core/errors';
import { buildJobSpec } from '../job-spec';
import { Logger } from '../../core/logger';
import type { SparkBackend } from '../backends/types';
import { describeIssues } from '../../core/validation';

export interface SubmitDeps {
  readonly backend: SparkBackend;
  readonly settings: PipelineSettings;
  readonly now?: () => Date;
  readonly log?: Logger;
}

export function createSubmitJob({ backend, settings, now = () => new Date(), log = new Logger('submit-job') }: SubmitDeps) {
  return async (event: unknown): Promise<JobHandle> => {
    const parsed = SubmitJobEvent.safeParse(event);
    if (!parsed.success) throw new InvalidInputError(`submit-job event: ${describeIssues(parsed.error, event)}`);
    const { kind, run, clientToken } = parsed.data;
    const spec = buildJobSpec(kind, run, settings, clientToken);
    const { jobId } = await backend.submit(spec);
    const handle: JobHandle = {
      backend: backend.kind, jobId, kind, runId: run.runId, submittedAt: now().toISOString(),
      timeoutSeconds: settings.jobTimeoutSeconds[kind],
    };
    log.info('job submitted', { runId: run.runId, kind, jobId, backend: backend.kind, arguments: spec.entryPointArguments });
    return handle;
  };
}
