/** Submits one Spark job of the pipeline and returns the handle the state machine polls with. */
import { ConfigurationError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import type { SparkBackend } from '../backends/types';
import { ENV, type JobHandle, type PipelineSettings, SubmitJobEvent } from '../contract';
import { buildJobSpec } from '../job-spec';

export interface SubmitDeps {
  readonly backend: SparkBackend;
  readonly settings: PipelineSettings;
  readonly now?: () => Date;
  readonly log?: Logger;
}

export function createSubmitJob({
  backend,
  settings,
  now = () => new Date(),
  log = new Logger('submit-job'),
}: SubmitDeps) {
  return async (event: unknown): Promise<JobHandle> => {
    const { kind, run, clientToken } = parseEvent(SubmitJobEvent, event, 'submit-job');
    const timeoutSeconds = settings.jobTimeoutSeconds[kind];
    if (timeoutSeconds === undefined) {
      throw new ConfigurationError(`${ENV.settings}: jobTimeoutSeconds.${kind} is not set, so no ${kind} job can run`);
    }
    const spec = buildJobSpec(kind, run, settings, clientToken);
    const { jobId } = await backend.submit(spec);
    const handle: JobHandle = {
      backend: backend.kind,
      jobId,
      kind,
      runId: run.runId,
      submittedAt: now().toISOString(),
      timeoutSeconds,
    };
    log.info('job submitted', {
      runId: run.runId,
      kind,
      jobId,
      backend: backend.kind,
      arguments: spec.entryPointArguments,
    });
    return handle;
  };
}
