/**
 * The props of the VQE batch construct, and their checks: every problem names the prop and the
 * value, and nothing is built before the props pass.
 */
import { Duration, Token } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { describeIssues } from '../../lambdas/core/contract';
import {
  argumentProblems,
  BatchSettings,
  CONTAINER_RECORDS_DIR,
  type ContainerSecrets,
  containerSecretProblems,
  DEFAULT_FOLDER_FLAG,
  DEFAULT_HOST_RECORDS_DIR,
  DEFAULT_RECORDS_PREFIX,
  DEFAULT_S3_FLAG,
  type DeliveryMode,
  describeProblems,
  dockerRunOptionProblems,
  HOST_PATH,
  hostUploadProblems,
  imageReferenceProblem,
  LANE_DEVICES_PATTERN,
  type Lane,
  OUTPUT_FLAG_PATTERN,
  type SsmLauncherSpec,
} from '../../lambdas/vqe-batch/contract';
import { assertFitsHistory, itemsWithin, pollingEvents, pollsWithin } from '../common/history-budget';
import type { LogLevel } from '../common/pipeline-function';
import type { ReportFunctionProps } from '../report/report-function';

/**
 * The GPU host reached through SSM Run Command. The construct deploys the SSM Command documents
 * the runs (and the image build) are sent with; the image repository, the docker run options and
 * the build folder are fixed in them, and the functions may send nothing else.
 */
export interface VqeBatchSsmLauncher {
  readonly kind: 'ssm';
  readonly target: SsmLauncherSpec['target'];
  /** The simulation image, `[registry[:port]/]repository[:tag][@sha256:digest]`; the run document accepts this repository only. */
  readonly image: string;
  /** Each GPU lane's `--gpus` device spec, `all` or `device=N[,M]`; the cpu lane gets no GPU. @default { gpu1: 'device=0', gpu2: 'device=1' } */
  readonly laneDevices?: SsmLauncherSpec['laneDevices'];
  /** More `docker run` options, from an allowlist (--shm-size, --ipc, --ulimit, --network, -e, -v, ...). @default none */
  readonly dockerRunOptions?: readonly string[];
  /** `docker build` of the image on the host before a batch. @default no build document */
  readonly build?: SsmLauncherSpec['build'];
  /**
   * Container environment variables the run document reads on the host right before `docker
   * run` (Secrets Manager SecretString or SecureString parameter), passed as `-e NAME` without a
   * value. Only the names reach the template. @default none
   */
  readonly containerSecrets?: ContainerSecrets;
  /** The GPU host's role, granted read of the container secrets. @default no grant: the HostSecretsPolicy output holds the policy to attach */
  readonly hostRole?: iam.IRole;
}

export type VqeBatchLauncher = VqeBatchSsmLauncher | { readonly kind: 'local' };

/**
 * How a run's records reach the raw bucket (lambdas/vqe-batch/delivery.ts). Each launch writes
 * below `<prefix><container name>/attempt-<n>/`; check-run counts what arrived there.
 */
export interface VqeBatchDelivery {
  /**
   * 'host-upload': the container writes into a host folder mounted for the run, which the run
   * document uploads with the host's role on exit 0 (the role is granted s3:PutObject below
   * `prefix`); 'direct': the container writes to S3 itself (its own credentials).
   * @default 'host-upload'
   */
  readonly mode?: DeliveryMode;
  /** Where job 1 reads the records. @default the state bucket */
  readonly bucket?: s3.IBucket;
  /** Folders of letters, digits and _.- ending in /. @default 'experiments/experiment.vqe/' */
  readonly prefix?: string;
  /** The image's flag taking the run folder (host-upload). @default '--output-dir' */
  readonly folderFlag?: string;
  /** The image's flag taking the s3:// prefix (direct). @default '--output' */
  readonly s3Flag?: string;
  /** The GPU host's folder the run folders are made in (host-upload, SSM launcher). @default '/var/lib/quantum-pipeline/records' */
  readonly hostDir?: string;
}

/** The delivery with its defaults applied. */
export type ResolvedDelivery = Required<VqeBatchDelivery>;

export function resolveDelivery(props: Pick<VqeBatchProps, 'delivery' | 'stateBucket'>): ResolvedDelivery {
  const delivery = props.delivery ?? {};
  return {
    mode: delivery.mode ?? 'host-upload',
    bucket: delivery.bucket ?? props.stateBucket,
    prefix: delivery.prefix ?? DEFAULT_RECORDS_PREFIX,
    folderFlag: delivery.folderFlag ?? DEFAULT_FOLDER_FLAG,
    s3Flag: delivery.s3Flag ?? DEFAULT_S3_FLAG,
    hostDir: delivery.hostDir ?? DEFAULT_HOST_RECORDS_DIR,
  };
}

export interface VqeBatchProps {
  readonly stateMachineName: string;
  /** Holds the per-run state, plans and batch records. */
  readonly stateBucket: s3.IBucket;
  /** @default 'vqe-batch/' */
  readonly statePrefix?: string;
  /** S3-compatible endpoint of the state bucket (local profile). @default the SDK's AWS endpoint */
  readonly stateEndpoint?: { readonly endpoint: string; readonly region: string };
  readonly launcher: VqeBatchLauncher;
  /** The molecules file of each lane, as the simulation sees it. */
  readonly moleculesFiles: Readonly<Record<Lane, string>>;
  /** Arguments after SPEC section 5's. @default none */
  readonly extraArgs?: readonly string[];
  /** How the runs' records reach the raw bucket. @default host-upload to the state bucket's experiments/experiment.vqe/ */
  readonly delivery?: VqeBatchDelivery;
  /** A run still going after this is stopped and recorded timed_out. @default 2 hours */
  readonly runTimeout?: Duration;
  /** @default 60 seconds */
  readonly pollInterval?: Duration;
  /** Runs per child execution. @default as many as fit 24,000 history events when every run times out (at most 100) */
  readonly chunkSize?: number;
  /** @default the account's default bus */
  readonly eventBus?: events.IEventBus;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** LOG_LEVEL of the functions. @default 'INFO' */
  readonly logLevel?: LogLevel;
  /**
   * Writes the batch's page, `reports/<batch id>.html` (WriteBatchReport at the end of a batch,
   * WriteBatchFailureReport on the failure path once the batch is planned). Its physics appear
   * once a feature pipeline run has processed the batch. @default no page
   */
  readonly report?: Pick<ReportFunctionProps, 'features' | 'summaryUri' | 'reports' | 's3Endpoint'>;
  /**
   * How a batch started while another runs waits for it (PipelineBusyError retries of PlanBatch);
   * after the last attempt it fails with PipelineBusyError.
   * @default every 300 s, backoff 1.5, 12 attempts (about 21 hours)
   */
  readonly runSlotRetry?: {
    readonly intervalSeconds: number;
    readonly backoffRate: number;
    readonly maxAttempts: number;
  };
}

/** Of Step Functions' 25,000 events per execution, what a chunk's runs may use; the rest is a margin for the chunk's own start and end. */
const HISTORY_BUDGET = 24_000;
/** History events of one run without polls (launch task, choice, next-run pass), and per poll (wait, check task, choice). */
const EVENTS_PER_RUN = 9;
const EVENTS_PER_POLL = 10;
/** A chunk holds at most this many runs, however few events each takes. */
const MAX_CHUNK_SIZE = 100;
const DEFAULT_RUN_TIMEOUT = Duration.hours(2);
const DEFAULT_POLL_INTERVAL = Duration.seconds(60);

/** The run timing the props come to, checked against the history budget. */
export interface BatchTiming {
  readonly runTimeoutSeconds: number;
  readonly pollSeconds: number;
  readonly chunkSize: number;
}

/**
 * Checks the props, naming the prop and the value, before anything is built. A chunk's runs
 * must fit its history: each run may poll until its timeout.
 * @returns the timing of the runs, defaults applied
 */
export function validateBatchProps(props: VqeBatchProps): BatchTiming {
  if (!/^[A-Za-z0-9_-]{1,74}$/.test(props.stateMachineName)) {
    throw new Error(
      `VqeBatch: stateMachineName must be 1-74 letters, digits, - or _ (the chunk machine adds -chunk), got ${JSON.stringify(props.stateMachineName)}`,
    );
  }
  const runTimeoutSeconds = (props.runTimeout ?? DEFAULT_RUN_TIMEOUT).toSeconds();
  const pollSeconds = (props.pollInterval ?? DEFAULT_POLL_INTERVAL).toSeconds();
  if (pollSeconds < 1 || pollSeconds > runTimeoutSeconds) {
    throw new Error(
      `VqeBatch: pollInterval must be from 1 s up to runTimeout (${runTimeoutSeconds} s), got ${pollSeconds} s`,
    );
  }
  const eventsPerRun = pollingEvents({
    timeoutSeconds: runTimeoutSeconds,
    pollSeconds,
    eventsPerPoll: EVENTS_PER_POLL,
    fixedEvents: EVENTS_PER_RUN,
  });
  assertFitsHistory(
    eventsPerRun,
    HISTORY_BUDGET,
    () =>
      `VqeBatch: runTimeout (${runTimeoutSeconds} s) / pollInterval (${pollSeconds} s) allows ` +
      `${pollsWithin(runTimeoutSeconds, pollSeconds)} polls per run, more than one chunk's history holds; poll less often`,
  );
  const fitting = itemsWithin(HISTORY_BUDGET, eventsPerRun);
  const chunkSize = props.chunkSize ?? Math.min(MAX_CHUNK_SIZE, fitting);
  if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > fitting) {
    throw new Error(
      `VqeBatch: chunkSize must be a whole number from 1 to ${fitting} (a run may poll up to ` +
        `${eventsPerRun} history events; a chunk must stay under ${HISTORY_BUDGET}), got ${chunkSize}`,
    );
  }
  validateHostCommands(props);
  const slot = props.runSlotRetry;
  if (
    slot &&
    !(
      Number.isInteger(slot.intervalSeconds) &&
      slot.intervalSeconds >= 1 &&
      slot.backoffRate >= 1 &&
      slot.backoffRate <= 10 &&
      Number.isInteger(slot.maxAttempts) &&
      slot.maxAttempts >= 0 &&
      slot.maxAttempts <= 99
    )
  ) {
    throw new Error(
      `VqeBatch: runSlotRetry must have a whole intervalSeconds >= 1, a backoffRate from 1 to 10 and a whole maxAttempts from 0 to 99, got ${JSON.stringify(slot)}`,
    );
  }
  return { runTimeoutSeconds, pollSeconds, chunkSize };
}

/**
 * What reaches the GPU host: an image reference (not an option such as --privileged), docker
 * run options from the allowlist, simulation arguments the run document accepts, no inline
 * secrets, and a GPU device spec per lane.
 */
function validateHostCommands(props: VqeBatchProps): void {
  const extraArgs = props.extraArgs ?? [];
  // A token (a bucket name) is known at deploy time only; the launcher checks the value before each run.
  const argProblems = argumentProblems(extraArgs).filter(({ index }) => !Token.isUnresolved(extraArgs[index]));
  const problems = describeProblems('extraArgs', argProblems);
  const delivery = resolveDelivery(props);
  if (delivery.mode !== 'host-upload' && delivery.mode !== 'direct') {
    problems.push(`delivery.mode: expected host-upload or direct, got ${JSON.stringify(delivery.mode)}`);
  }
  problems.push(...hostUploadProblems(delivery));
  // The run folder is a mount like any -v: never a system folder of the host.
  const mount = dockerRunOptionProblems(['-v', `${delivery.hostDir}:${CONTAINER_RECORDS_DIR}`]);
  if (mount.length > 0) {
    problems.push(
      `delivery.hostDir: ${mount[0].message.replace(/^(--volume|-v): /, '')}, got ${JSON.stringify(delivery.hostDir)}`,
    );
  }
  for (const key of ['folderFlag', 's3Flag'] as const) {
    if (!OUTPUT_FLAG_PATTERN.test(delivery[key])) {
      problems.push(
        `delivery.${key}: expected a --flag of letters, digits and -, got ${JSON.stringify(delivery[key])}`,
      );
    }
  }
  const { launcher } = props;
  if (launcher.kind === 'ssm') {
    const imageProblem = imageReferenceProblem(launcher.image);
    if (imageProblem) problems.push(`launcher.image: ${imageProblem}, got ${JSON.stringify(launcher.image)}`);
    problems.push(
      ...describeProblems('launcher.dockerRunOptions', dockerRunOptionProblems(launcher.dockerRunOptions ?? [])),
    );
    problems.push(
      ...containerSecretProblems(
        'launcher.containerSecrets',
        launcher.containerSecrets ?? {},
        launcher.dockerRunOptions ?? [],
      ),
    );
    for (const [lane, device] of Object.entries(launcher.laneDevices ?? {})) {
      if (!LANE_DEVICES_PATTERN.test(device)) {
        problems.push(`launcher.laneDevices.${lane}: expected all or device=N[,M], got ${JSON.stringify(device)}`);
      }
    }
    for (const [lane, file] of Object.entries(props.moleculesFiles)) {
      if (argumentProblems(['--file', file]).length > 0) {
        problems.push(
          `moleculesFiles.${lane}: expected a path of letters, digits and _.,:/+=@- (it is a run argument), got ${JSON.stringify(file)}`,
        );
      }
    }
    for (const key of ['contextDir', 'dockerfile'] as const) {
      const path = launcher.build?.[key];
      if (path !== undefined && !HOST_PATH.test(path)) {
        problems.push(
          `launcher.build.${key}: expected a path of letters, digits, spaces and _.@+/-, got ${JSON.stringify(path)}`,
        );
      }
    }
  }
  if (problems.length > 0) throw new Error(`VqeBatch: ${problems.join('; ')}`);
}

const DEFAULT_STATE_PREFIX = 'vqe-batch/';
/** The lanes' GPUs when none are configured: one GPU each, so the two GPU lanes never share one. */
const DEFAULT_LANE_DEVICES = { gpu1: 'device=0', gpu2: 'device=1' } as const;

/**
 * The settings the functions are deployed with (BATCH_SETTINGS), checked with the schema the
 * functions load them with.
 */
export function batchSettings(
  props: VqeBatchProps,
  { runTimeoutSeconds, pollSeconds: pollIntervalSeconds, chunkSize }: BatchTiming,
  documents?: { readonly run: { readonly ref: string }; readonly build?: { readonly ref: string } },
): BatchSettings {
  const launcher =
    props.launcher.kind === 'ssm' && documents
      ? {
          kind: 'ssm',
          target: props.launcher.target,
          image: props.launcher.image,
          documents: { run: documents.run.ref, ...(documents.build ? { build: documents.build.ref } : {}) },
          laneDevices: props.launcher.laneDevices ?? DEFAULT_LANE_DEVICES,
          commandTimeoutSeconds: runTimeoutSeconds + 600,
          ...(props.launcher.build ? { build: props.launcher.build } : {}),
        }
      : { kind: 'local' };
  const candidate = {
    stateBucket: props.stateBucket.bucketName,
    statePrefix: props.statePrefix ?? DEFAULT_STATE_PREFIX,
    ...(props.stateEndpoint ? { s3Endpoint: props.stateEndpoint.endpoint, s3Region: props.stateEndpoint.region } : {}),
    launcher,
    moleculesFiles: { ...props.moleculesFiles },
    extraArgs: [...(props.extraArgs ?? [])],
    delivery: (({ mode, bucket, prefix, folderFlag, s3Flag }) => ({
      mode,
      bucket: bucket.bucketName,
      prefix,
      folderFlag,
      s3Flag,
    }))(resolveDelivery(props)),
    runTimeoutSeconds,
    pollIntervalSeconds,
    chunkSize,
  };
  // The same schema the functions check at load: a setting they would refuse fails the synth.
  // Every lane needs its molecules file: the record's keys are the enum, all of them required.
  const result = BatchSettings.safeParse(candidate);
  if (!result.success) throw new Error(`VqeBatch: invalid settings: ${describeIssues(result.error, candidate)}`);
  return result.data;
}
