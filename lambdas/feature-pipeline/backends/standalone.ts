/**
 * Spark standalone backend: the master's REST submission API (port 6066).
 *
 * spark-submit refuses cluster mode for Python on standalone, so the request launches
 * SparkSubmit itself as the "main class" on a worker, in client mode there; that process then
 * runs the script. SparkSubmit takes master and conf from its own arguments (system properties
 * alone would leave it on local[*]).
 *
 * The REST API has no idempotency token (JobSpec.clientToken is unused here): a retried submit
 * can start a second driver. The Spark jobs are themselves idempotent per batch (a batch is
 * planned once and appended at most once per table), and the state machine only retries a
 * submit on SparkBackendUnavailableError, i.e. when the master could not be reached.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SparkBackendUnavailableError, SparkJobFailedError, SparkSubmitRejectedError } from '../../core/errors';
import type { JobSpec, JobState } from '../contract';
import { standaloneDriverLead } from './failure-cause';
import { type BackendJobStatus, type CancelOutcome, resolveArtifact, resourceConf, type SparkBackend } from './types';

export interface StandaloneBackendProps {
  /** e.g. http://127.0.0.1:6066 */
  readonly restUrl: string;
  /** e.g. spark://127.0.0.1:7077 */
  readonly masterUrl: string;
  /** Folder (on the worker) holding the entry scripts and the --py-files archive. */
  readonly artifactsDir: string;
  /** Python the driver and executors run (PYSPARK_PYTHON). */
  readonly python: string;
  /** The worker's work dir, to quote a failed driver's stderr. @default no log tail */
  readonly workDir?: string;
  /** @default '4.0.2' */
  readonly sparkVersion?: string;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

const STATE_MAP: Record<string, JobState> = {
  SUBMITTED: 'PENDING',
  RELAUNCHING: 'PENDING',
  UNKNOWN: 'PENDING',
  RUNNING: 'RUNNING',
  FINISHED: 'SUCCEEDED',
  FAILED: 'FAILED',
  ERROR: 'FAILED',
  KILLED: 'CANCELLED',
};
/** Lines kept from the end of each of the driver's stderr and stdout (~40 in all). */
const LOG_TAIL_LINES = 20;
/** Keeps JobStatus.detail (max 4,000) and the Fail state's cause small. */
const DETAIL_LIMIT = 3500;
/** The lead line (driver, state, exit status, reason) of a failed driver's detail. */
const LEAD_LIMIT = 500;
/** A log line longer than this (the worker's Launch Command) is cut, so it cannot crowd out the rest. */
const LINE_LIMIT = 400;

interface RestReply {
  success?: boolean;
  message?: string;
  submissionId?: string;
  driverState?: string;
}

export class StandaloneBackend implements SparkBackend {
  readonly kind = 'standalone' as const;
  private readonly fetch: typeof fetch;

  constructor(private readonly props: StandaloneBackendProps) {
    this.fetch = props.fetch ?? globalThis.fetch;
  }

  /** The CreateSubmissionRequest body (exported for tests of its shape). */
  request(spec: JobSpec): Record<string, unknown> {
    const entry = resolveArtifact(this.props.artifactsDir, spec.entryPoint);
    const properties: Record<string, string> = {
      'spark.master': this.props.masterUrl,
      'spark.app.name': spec.name,
      'spark.submit.deployMode': 'cluster',
      'spark.driver.supervise': 'false',
      ...resourceConf(spec),
      ...spec.sparkConf,
    };
    const confArgs = Object.entries(properties)
      .filter(([key]) => key !== 'spark.master' && key !== 'spark.submit.deployMode')
      .flatMap(([key, value]) => ['--conf', `${key}=${value}`]);
    const pyFiles = spec.pyFiles.map((file) => resolveArtifact(this.props.artifactsDir, file));
    return {
      action: 'CreateSubmissionRequest',
      clientSparkVersion: this.props.sparkVersion ?? '4.0.2',
      appResource: entry,
      mainClass: 'org.apache.spark.deploy.SparkSubmit',
      appArgs: [
        '--master',
        this.props.masterUrl,
        '--deploy-mode',
        'client',
        ...confArgs,
        ...(pyFiles.length ? ['--py-files', pyFiles.join(',')] : []),
        ...spec.extraSubmitArgs,
        entry,
        ...spec.entryPointArguments,
      ],
      environmentVariables: { PYSPARK_PYTHON: this.props.python, SPARK_LOCAL_IP: '127.0.0.1' },
      sparkProperties: properties,
    };
  }

  async submit(spec: JobSpec): Promise<{ jobId: string }> {
    const reply = await this.call('POST', '/v1/submissions/create', this.request(spec));
    if (!reply.success || !reply.submissionId) {
      throw new SparkSubmitRejectedError(`the Spark master refused the submission: ${reply.message ?? 'no message'}`);
    }
    return { jobId: reply.submissionId };
  }

  async describe(jobId: string): Promise<BackendJobStatus> {
    const reply = await this.call('GET', `/v1/submissions/status/${encodeURIComponent(jobId)}`);
    if (reply.success === false && !reply.driverState) {
      // The master does not know the driver: it restarted without recovery and lost it. Nothing
      // runs any more, so this is a failed job, which the job phase retries with a new submit.
      throw new SparkJobFailedError(
        `driver ${jobId} is unknown to the Spark master at ${this.props.restUrl}` +
          ` (lost in a master restart?)${reply.message ? `: ${reply.message}` : ''}`,
      );
    }
    const driverState = reply.driverState ?? 'UNKNOWN';
    const state = STATE_MAP[driverState] ?? 'PENDING';
    if (state !== 'FAILED' && state !== 'CANCELLED') {
      return { state, backendState: driverState, detail: `standalone driver ${driverState}` };
    }
    // The cause leads with what ended the driver, then quotes the end of its logs.
    const logs = await this.logTail(jobId);
    const lead = standaloneDriverLead({
      jobId,
      driverState,
      message: reply.message,
      stderr: logs.stderr,
      stdout: logs.stdout,
    }).slice(0, LEAD_LIMIT);
    const tail =
      [logs.stderr && `--- driver stderr ---\n${logs.stderr}`, logs.stdout && `--- driver stdout ---\n${logs.stdout}`]
        .filter(Boolean)
        .join('\n') ||
      (reply.message?.trim() ?? '');
    const room = DETAIL_LIMIT - lead.length - 1;
    return { state, backendState: driverState, detail: tail ? `${lead}\n${tail.slice(-room)}` : lead };
  }

  async cancel(jobId: string): Promise<CancelOutcome> {
    const reply = await this.call('POST', `/v1/submissions/kill/${encodeURIComponent(jobId)}`);
    return reply.success
      ? { cancelled: true, note: `kill accepted for ${jobId}` }
      : { cancelled: false, note: `${jobId} not killed: ${reply.message ?? 'no message'}` };
  }

  /**
   * The end of the driver's logs: its stderr holds the Spark log, its stdout the Python traceback
   * (SparkSubmit runs the script as a child process); '' for a log that cannot be read here.
   */
  private async logTail(jobId: string): Promise<{ stderr: string; stdout: string }> {
    const workDir = this.props.workDir;
    if (!workDir || !/^[A-Za-z0-9_-]+$/.test(jobId)) return { stderr: '', stdout: '' };
    const tail = async (name: string) => {
      try {
        const text = await readFile(join(workDir, jobId, name), 'utf8');
        return text
          .trimEnd()
          .split('\n')
          .slice(-LOG_TAIL_LINES)
          .map((line) => (line.length > LINE_LIMIT ? `${line.slice(0, LINE_LIMIT)} ...` : line))
          .join('\n');
      } catch {
        return ''; // the worker may be another machine; the master's message remains
      }
    };
    const [stderr, stdout] = await Promise.all([tail('stderr'), tail('stdout')]);
    return { stderr, stdout };
  }

  private async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<RestReply> {
    let response: Response;
    try {
      response = await this.fetch(`${this.props.restUrl.replace(/\/+$/, '')}${path}`, {
        method,
        headers: { 'Content-Type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
    } catch (cause) {
      throw new SparkBackendUnavailableError(
        `${method} ${path}: the Spark master at ${this.props.restUrl} is unreachable`,
        { cause },
      );
    }
    if (response.status >= 500) {
      throw new SparkBackendUnavailableError(`${method} ${path}: HTTP ${response.status} from the Spark master`);
    }
    const text = await response.text();
    try {
      return JSON.parse(text) as RestReply;
    } catch (cause) {
      throw new SparkBackendUnavailableError(
        `${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`,
        { cause },
      );
    }
  }
}
