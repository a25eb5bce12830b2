/**
 * EMR Serverless backend: StartJobRun / GetJobRun / CancelJobRun on one Spark application.
 *
 * StartJobRun carries the state machine's client token, so a submit retried after a timeout or a
 * throttle returns the job run the first call started instead of starting a second one.
 */
import {
  CancelJobRunCommand,
  type EMRServerlessClient,
  type JobRunState as EmrJobRunState,
  GetJobRunCommand,
  StartJobRunCommand,
} from '@aws-sdk/client-emr-serverless';
import { SparkBackendUnavailableError, SparkSubmitRejectedError } from '../../core/errors';
import { isTransientAwsError } from '../../core/transient';
import type { JobSpec, JobState } from '../contract';
import { emrJobRunLead } from './failure-cause';
import { type BackendJobStatus, type CancelOutcome, resolveArtifact, resourceConf, type SparkBackend } from './types';

export interface EmrServerlessBackendProps {
  readonly client: EMRServerlessClient;
  readonly applicationId: string;
  readonly executionRoleArn: string;
  /** s3://<artifacts bucket>/spark-jobs/ : entry scripts and the --py-files archive. */
  readonly artifactsUri: string;
  /** Where EMR writes driver and executor logs. @default no S3 logs */
  readonly logUri?: string;
  /**
   * EMR's own limit on a job run, a backstop should the state machine stop polling (the
   * job-status step enforces the pipeline's per-job timeout itself). @default EMR's default (12 h)
   */
  readonly executionTimeoutMinutes?: number;
}

const STATE_MAP: Record<EmrJobRunState, JobState> = {
  SUBMITTED: 'PENDING',
  PENDING: 'PENDING',
  SCHEDULED: 'PENDING',
  QUEUED: 'PENDING',
  RUNNING: 'RUNNING',
  CANCELLING: 'CANCELLING',
  SUCCESS: 'SUCCEEDED',
  FAILED: 'FAILED',
  CANCELLED: 'CANCELLED',
};

/** One quoted word per value, as spark-submit's argument parser on EMR splits on white space. */
function shellWord(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'"'"'`)}'`;
}

export function sparkSubmitParameters(spec: JobSpec, artifactsUri: string): string {
  const conf = { ...resourceConf(spec), ...spec.sparkConf };
  const words = [
    ...(spec.pyFiles.length ? ['--py-files', spec.pyFiles.map((f) => resolveArtifact(artifactsUri, f)).join(',')] : []),
    ...Object.entries(conf).flatMap(([key, value]) => ['--conf', `${key}=${value}`]),
    ...spec.extraSubmitArgs,
  ];
  return words.map(shellWord).join(' ');
}

export class EmrServerlessBackend implements SparkBackend {
  readonly kind = 'emr-serverless' as const;

  constructor(private readonly props: EmrServerlessBackendProps) {}

  async submit(spec: JobSpec): Promise<{ jobId: string }> {
    const command = new StartJobRunCommand({
      applicationId: this.props.applicationId,
      executionRoleArn: this.props.executionRoleArn,
      clientToken: spec.clientToken,
      name: spec.name,
      jobDriver: {
        sparkSubmit: {
          entryPoint: resolveArtifact(this.props.artifactsUri, spec.entryPoint),
          entryPointArguments: spec.entryPointArguments,
          sparkSubmitParameters: sparkSubmitParameters(spec, this.props.artifactsUri),
        },
      },
      ...(this.props.logUri
        ? {
            configurationOverrides: {
              monitoringConfiguration: { s3MonitoringConfiguration: { logUri: this.props.logUri } },
            },
          }
        : {}),
      ...(this.props.executionTimeoutMinutes !== undefined
        ? { executionTimeoutMinutes: this.props.executionTimeoutMinutes }
        : {}),
    });
    const reply = await this.call('StartJobRun', () => this.props.client.send(command), true);
    if (!reply.jobRunId) throw new SparkSubmitRejectedError('StartJobRun returned no jobRunId');
    return { jobId: reply.jobRunId };
  }

  async describe(jobId: string): Promise<BackendJobStatus> {
    const reply = await this.call(
      'GetJobRun',
      () => this.props.client.send(new GetJobRunCommand({ applicationId: this.props.applicationId, jobRunId: jobId })),
      false,
    );
    const emrState = reply.jobRun?.state;
    if (!emrState || !(emrState in STATE_MAP)) {
      throw new SparkBackendUnavailableError(
        `GetJobRun ${jobId}: unknown job state ${JSON.stringify(emrState ?? null)}`,
      );
    }
    const state = STATE_MAP[emrState];
    const details = reply.jobRun?.stateDetails || undefined;
    if (state !== 'FAILED' && state !== 'CANCELLED') return { state, backendState: emrState, detail: details };
    // The cause leads with the job run, its state, exit status and OOM, then EMR's own words.
    const lead = emrJobRunLead(jobId, emrState, details);
    return { state, backendState: emrState, detail: details ? `${lead}\n${details}` : lead };
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    try {
      await this.props.client.send(
        new CancelJobRunCommand({ applicationId: this.props.applicationId, jobRunId: jobId }),
      );
      return { cancelled: true, note: `CancelJobRun accepted for ${jobId}` };
    } catch (error) {
      const name = (error as Error).name;
      // A job already in a final state cannot be cancelled: nothing is left running, which is
      // what the failure path wants.
      if (name === 'ValidationException' || name === 'ConflictException' || name === 'ResourceNotFoundException') {
        return { cancelled: false, note: `${jobId} not cancelled: ${name}: ${(error as Error).message}` };
      }
      if (isTransientAwsError(error))
        throw new SparkBackendUnavailableError(`CancelJobRun ${jobId}: ${(error as Error).message}`, { cause: error });
      throw error;
    }
  }

  private async call<T>(operation: string, send: () => Promise<T>, isSubmit: boolean): Promise<T> {
    try {
      return await send();
    } catch (error) {
      const message = `${operation}: ${(error as Error).name}: ${(error as Error).message}`;
      if (isTransientAwsError(error)) throw new SparkBackendUnavailableError(message, { cause: error });
      if (isSubmit) throw new SparkSubmitRejectedError(message, { cause: error });
      throw error; // e.g. ResourceNotFoundException: its own name reaches the state machine's Catch
    }
  }
}
