/**
 * What every state machine's contract shares, and the only part of core/ that infra/ imports (like
 * each domain's contract.ts, it loads no SDK): the error names Step Functions matches Retry/Catch on,
 * the formatter that turns zod issues into a message naming the field and the value, and the
 * names of the pipeline's CloudWatch metrics.
 */
export {
  METRIC_DIMENSIONS,
  METRIC_JOBS,
  METRIC_NAMESPACE,
  METRICS,
  type MetricKey,
  STACK_NAME_ENV,
} from './metric-names';
export { describeIssues } from './validation';

/** The `name` of each error class of errors.ts (test/core/errors.test.ts checks the two agree). */
export const ERROR_NAMES = {
  invalidInput: 'InvalidInputError',
  pipelineBusy: 'PipelineBusyError',
  submitRejected: 'SparkSubmitRejectedError',
  backendUnavailable: 'SparkBackendUnavailableError',
  jobTimeout: 'SparkJobTimeoutError',
  jobFailed: 'SparkJobFailedError',
  runSummary: 'RunSummaryError',
  configuration: 'ConfigurationError',
  syncEndpoint: 'SyncEndpointError',
  syncIncomplete: 'SyncIncompleteError',
  syncDeleteGuard: 'SyncDeleteGuardError',
  runLaunch: 'RunLaunchError',
  launcherUnavailable: 'LauncherUnavailableError',
} as const;
