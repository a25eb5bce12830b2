/**
 * Named errors. Step Functions matches Retry/Catch on the error's `name` (the Lambda runtime
 * reports it as errorType), so every name here is stable and part of the state machine contract.
 */

abstract class PipelineError extends Error {
  /** Subclasses fix their own name; it must never be minified away (esbuild keepNames is on). */
  abstract override readonly name: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Console/trigger input that fails validation. Not retried. */
export class InvalidInputError extends PipelineError {
  override readonly name = 'InvalidInputError';
}

/** Another execution of the same state machine holds the tables. Retried with backoff. */
export class PipelineBusyError extends PipelineError {
  override readonly name = 'PipelineBusyError';
}

/** The backend refused the submission (bad spec, missing application, permissions). Not retried. */
export class SparkSubmitRejectedError extends PipelineError {
  override readonly name = 'SparkSubmitRejectedError';
}

/** The backend could not be reached or throttled us. Retried by the task's Retry. */
export class SparkBackendUnavailableError extends PipelineError {
  override readonly name = 'SparkBackendUnavailableError';
}

/** The job ran longer than its timeout; the job-status Lambda cancels it before throwing this. */
export class SparkJobTimeoutError extends PipelineError {
  override readonly name = 'SparkJobTimeoutError';
}

/** The job ended FAILED or CANCELLED. The job phase retries on this (SPEC section 4 retries). */
export class SparkJobFailedError extends PipelineError {
  override readonly name = 'SparkJobFailedError';
}

/** The job succeeded but its run summary is missing or does not match the contract. */
export class RunSummaryError extends PipelineError {
  override readonly name = 'RunSummaryError';
}

/** A required environment variable is missing or malformed (thrown at module load). */
export class ConfigurationError extends PipelineError {
  override readonly name = 'ConfigurationError';
}

/** A side of an R2 sync is unreachable, unreadable or not writable; the message names the side. */
export class SyncEndpointError extends PipelineError {
  override readonly name = 'SyncEndpointError';
}

/** Copies or deletions of a sync failed; the next attempt lists both sides again and resumes. */
export class SyncIncompleteError extends PipelineError {
  override readonly name = 'SyncIncompleteError';
}

/**
 * A sync's plan would delete more of the mirror than its limits allow (maxDeleteFraction,
 * maxDeleteCount), or would empty a table's mirror because its source listing is empty. The
 * copies are made, no deletion is; the message names the table, the planned deletions, the
 * mirror's object count and the limits. Not retried: the same listings give the same refusal.
 */
export class SyncDeleteGuardError extends PipelineError {
  override readonly name = 'SyncDeleteGuardError';
}

/** A VQE run could not be started (image missing, host refused it): the run is recorded as failed, the lane goes on. */
export class RunLaunchError extends PipelineError {
  override readonly name = 'RunLaunchError';
}

/** The launcher's host or service could not be reached or throttled us. Retried by the task's Retry. */
export class LauncherUnavailableError extends PipelineError {
  override readonly name = 'LauncherUnavailableError';
}
