/**
 * The shapes of the "vqe batch generation" state machines: the settings their Lambdas are
 * deployed with (BATCH_SETTINGS), the per-run state kept in S3, and what the states pass on.
 */
import { z } from 'zod';
import { DELIVERY_MODES, OUTPUT_FLAG_PATTERN, RECORDS_PREFIX_PATTERN } from './delivery';
import { LANE_DEVICES_PATTERN, parseImageReference } from './host-commands';

export {
  type ContainerSecretSource,
  type ContainerSecrets,
  containerSecretProblems,
  isSecretArn,
  SECRET_LOOKUP_EXIT_CODE,
} from './container-secrets';
export {
  CONTAINER_RECORDS_DIR,
  DEFAULT_FOLDER_FLAG,
  DEFAULT_HOST_RECORDS_DIR,
  DEFAULT_RECORDS_PREFIX,
  DEFAULT_S3_FLAG,
  DELIVERY_MODES,
  type DeliveryMode,
  NO_RECORDS_DELIVERED,
  OUTPUT_FLAG_PATTERN,
  RECORDS_PREFIX_PATTERN,
  RECORDS_UPLOAD_EXIT_CODE,
} from './delivery';
/** What may reach the GPU host (the SSM documents and the synth-time checks), for the CDK app. */
export {
  argumentProblems,
  buildDocumentContent,
  describeProblems,
  dockerRunOptionProblems,
  HOST_PATH,
  imageReferenceProblem,
  LANE_DEVICES_PATTERN,
  runDocumentContent,
} from './host-commands';
export { type HostUploadSettings, hostUploadProblems } from './host-upload';

/** The environment variable the batch Lambdas read their settings from. */
export const BATCH_ENV = { settings: 'BATCH_SETTINGS' } as const;

/** The batch's lanes: the two GPU hosts' halves and the CPU lane (SPEC section 5). */
export const LANES = ['gpu1', 'gpu2', 'cpu'] as const;
export type Lane = (typeof LANES)[number];

/** A launched run's handle, plain JSON: it travels through Step Functions and the per-run state object. */
export const RunHandle = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('ssm'),
    commandId: z.string().min(1),
    instanceId: z.string().min(1),
    containerName: z.string().min(1),
  }),
  z.object({ kind: z.literal('docker'), containerId: z.string().min(1) }),
  z.object({ kind: z.literal('process'), pid: z.number().int().positive(), runDir: z.string().min(1) }),
]);
export type RunHandle = z.infer<typeof RunHandle>;

export const BATCH_EVENT_SOURCE = 'quantum-pipeline.vqe-batch';
export const BATCH_EVENT_DETAIL_TYPE = 'VQE Batch Finished';

export const RUN_STATUSES = ['pending', 'in_progress', 'done', 'failed', 'timed_out'] as const;
export type RunStatusName = (typeof RUN_STATUSES)[number];

const Lane = z.enum(LANES);
const prefix = z.string().regex(/^([^/].*\/)?$/, 'expected a key prefix ending in / (or empty)');

export const SsmLauncherSpec = z
  .object({
    kind: z.literal('ssm'),
    target: z.union([
      z
        .object({ instanceId: z.string().regex(/^m?i-[0-9a-f]{8,17}$/, 'expected an instance id i-... or mi-...') })
        .strict(),
      z
        .object({ tag: z.object({ key: z.string().min(1).max(128), value: z.string().min(1).max(256) }).strict() })
        .strict(),
    ]),
    /** The image the documents allow (their image parameter takes this repository only). */
    image: z.string().refine((image) => parseImageReference(image) !== undefined, {
      message: 'expected an image reference [registry[:port]/]repository[:tag][@sha256:digest]',
    }),
    /** The SSM Command documents of the stack: run/stop a container, and the image build when configured. */
    documents: z.object({ run: z.string().min(1).max(128), build: z.string().min(1).max(128).optional() }).strict(),
    /** Each GPU lane's `--gpus` device spec; a lane without one (the cpu lane) gets no GPU. */
    laneDevices: z
      .object({
        gpu1: z.string().regex(LANE_DEVICES_PATTERN, 'expected all or device=N[,M]').optional(),
        gpu2: z.string().regex(LANE_DEVICES_PATTERN, 'expected all or device=N[,M]').optional(),
      })
      .strict(),
    /** SSM's executionTimeout: a backstop above the per-run timeout. */
    commandTimeoutSeconds: z.number().int().min(60).max(172800),
    build: z
      .object({
        contextDir: z.string().min(1),
        cudaArch: z.string().regex(/^\d+\.\d+$/),
        dockerfile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type SsmLauncherSpec = z.infer<typeof SsmLauncherSpec>;

/** Where a run's records go (delivery.ts); the bucket is raw-results, where job 1 reads them. */
export const RecordsDelivery = z
  .object({
    mode: z.enum(DELIVERY_MODES),
    bucket: z.string().min(3).max(63),
    /** Each launch writes below `<prefix><container name>/attempt-<n>/`. */
    prefix: z.string().regex(RECORDS_PREFIX_PATTERN, 'expected folders of letters, digits and _.- ending in /'),
    /** The image's flag taking the run folder (host-upload). */
    folderFlag: z.string().regex(OUTPUT_FLAG_PATTERN, 'expected a --flag'),
    /** The image's flag taking the s3:// prefix (direct). */
    s3Flag: z.string().regex(OUTPUT_FLAG_PATTERN, 'expected a --flag'),
  })
  .strict();
export type RecordsDelivery = z.infer<typeof RecordsDelivery>;

export const BatchSettings = z
  .object({
    /** Where the per-run state, the plans and the batch records live. */
    stateBucket: z.string().min(3).max(63),
    statePrefix: prefix,
    /** S3-compatible endpoint of the state bucket (local profile). */
    s3Endpoint: z.url().optional(),
    s3Region: z.string().min(1).optional(),
    /** 'local' is bound by the local runner: the Docker Engine API when a socket exists, else a process runner. */
    launcher: z.union([SsmLauncherSpec, z.object({ kind: z.literal('local') }).strict()]),
    /** The molecules file of each lane, as the simulation sees it (--file). */
    moleculesFiles: z.record(Lane, z.string().min(1)),
    /** Arguments after SPEC section 5's (e.g. --kafka); the records' output arguments come from `delivery`. */
    extraArgs: z.array(z.string()),
    delivery: RecordsDelivery,
    /** Default and ceiling of a run's time; the chunk size is computed for the ceiling. */
    runTimeoutSeconds: z.number().int().min(1).max(86400),
    pollIntervalSeconds: z.number().int().min(1).max(3600),
    /** Runs per child execution, so a child's history stays under 25,000 events. */
    chunkSize: z.number().int().min(1).max(1000),
  })
  .strict();
export type BatchSettings = z.infer<typeof BatchSettings>;

/** One run's durable record: `<statePrefix>runs/<run key>.json`. */
export const RunState = z
  .object({
    key: z.string().min(1),
    lane: Lane,
    batchId: z.string().min(1),
    status: z.enum(RUN_STATUSES),
    /** 1 for the first launch of this key, counting across batches. */
    attempt: z.number().int().min(1),
    startedAt: z.iso.datetime().optional(),
    endedAt: z.iso.datetime().optional(),
    deadline: z.iso.datetime().optional(),
    exitCode: z.number().int().nullable().optional(),
    stderrTail: z.string().optional(),
    /** Why it failed when no exit code tells (launch refused, timeout, step error). */
    detail: z.string().optional(),
    handle: RunHandle.optional(),
    args: z.array(z.string()),
    /** Where this launch delivers its records, `s3://bucket/prefix/` (absent: a run launched before delivery existed). */
    recordsUri: z.string().optional(),
    /** The records (S3 objects) found below recordsUri once the run ended. */
    records: z.number().int().min(0).optional(),
  })
  .strict();
export type RunState = z.infer<typeof RunState>;

export const Chunk = z.object({ start: z.number().int().min(0), end: z.number().int().min(1) }).strict();

/** What the plan hands on (small: the run lists themselves stay in S3). */
export const BatchRef = z
  .object({
    batchId: z.string().min(1),
    tier: z.number().int().min(1).max(4),
    runTimeoutSeconds: z.number().int().min(1),
    /** When the batch started (for the ETA). */
    startedAt: z.iso.datetime(),
  })
  .strict();
export type BatchRef = z.infer<typeof BatchRef>;

export const LanePlan = z.object({ lane: Lane, runs: z.number().int().min(0), chunks: z.array(Chunk) }).strict();
export type LanePlan = z.infer<typeof LanePlan>;

export const PlanOutput = z
  .object({
    batch: BatchRef,
    dryRun: z.boolean(),
    buildImage: z.boolean(),
    total: z.number().int(),
    alreadyDone: z.number().int(),
    toRun: z.number().int(),
    lanes: z.array(LanePlan),
    /** The first runs of each lane, for a dry run's report. */
    preview: z.record(z.string(), z.array(z.string())),
  })
  .strict();
export type PlanOutput = z.infer<typeof PlanOutput>;

export const PlanEvent = z.object({
  input: z.unknown(),
  executionName: z.string().min(1),
  startTime: z.string().min(1),
  /** $$.Execution.Id and $$.StateMachine.Id, for the run slot. */
  executionArn: z.string().min(1).optional(),
  stateMachineArn: z.string().min(1).optional(),
});

/** The chunk loop's state: the run at `cursor` of the lane's plan; the chunk is [start, end). */
export const ChunkCursor = z
  .object({
    batch: BatchRef,
    lane: Lane,
    start: z.number().int().min(0),
    cursor: z.number().int().min(0),
    end: z.number().int().min(1),
  })
  .strict();
export type ChunkCursor = z.infer<typeof ChunkCursor>;

export const StatusTally = z.object(
  Object.fromEntries(RUN_STATUSES.map((s) => [s, z.number().int().min(0)])) as Record<RunStatusName, z.ZodNumber>,
);
export type StatusTally = z.infer<typeof StatusTally>;

/** What start-run answers: the chunk is finished, or the run at the cursor ended at once, or it runs. */
export type StartRunResult =
  | {
      readonly finished: true;
      readonly ended: true;
      readonly chunk: { lane: string; start: number; end: number; tally: StatusTally };
    }
  | { readonly finished: false; readonly ended: true; readonly key: string; readonly status: RunStatusName }
  | {
      readonly finished: false;
      readonly ended: false;
      readonly key: string;
      readonly handle: RunHandle;
      readonly deadline: string;
    };

export const CheckRunEvent = ChunkCursor.extend({
  run: z.object({ key: z.string().min(1), handle: RunHandle, deadline: z.iso.datetime() }).passthrough(),
}).strict();

export const BuildCheckEvent = z.object({ handle: RunHandle }).passthrough();

export interface LaneProgress extends StatusTally {
  readonly lane: string;
  readonly planned: number;
  /** Records delivered by this batch's runs of the lane (counted by CheckRun). */
  readonly records: number;
  /** Mean duration of the runs of this batch that ended, in seconds. */
  readonly meanRunSeconds: number | null;
  readonly etaSeconds: number | null;
}

export interface BatchProgress {
  readonly batchId: string;
  readonly tier: number;
  readonly startedAt: string;
  readonly lanes: LaneProgress[];
  readonly totals: StatusTally & { readonly planned: number };
  /** Records delivered by this batch's runs, all lanes. */
  readonly records: number;
  /** Lanes run side by side: the batch ends with its slowest lane. */
  readonly etaSeconds: number | null;
  readonly estimatedEnd: string | null;
  readonly finished: boolean;
}
