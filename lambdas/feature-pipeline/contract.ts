/**
 * The shapes that cross a boundary: console input, Lambda events and results, the Spark job
 * spec and the run summary the Spark jobs write. Every handler parses its event with these
 * schemas; the state machine definition (infra/) moves exactly these objects between states.
 */
import { z } from 'zod';

/** Which Spark job: the feature pipeline's two, or table maintenance (its own state machine). */
export const SparkJobKind = z.enum(['features', 'ml-features', 'maintenance']);
export type SparkJobKind = z.infer<typeof SparkJobKind>;

/** The Python entry script of each job (dist/spark-jobs/<name>.py, s3://<artifacts>/spark-jobs/<name>.py). */
export const ENTRY_SCRIPT: Record<SparkJobKind, string> = {
  features: 'feature_processing.py',
  'ml-features': 'ml_feature_processing.py',
  maintenance: 'table_maintenance.py',
};
/** The job name the Spark jobs use in their run-summary key: <summaryPrefix>/<jobName>/<runId>.json. */
export const SUMMARY_JOB_NAME: Record<SparkJobKind, string> = {
  features: 'feature_processing',
  'ml-features': 'ml_feature_processing',
  maintenance: 'table_maintenance',
};
export const PY_FILES_ARCHIVE = 'quantum_pipeline.zip';

// ---------------------------------------------------------------------------------------------
// Console input of the "feature processing" state machine (strict: an unknown key is an error).
// ---------------------------------------------------------------------------------------------
export const MlParams = z
  .object({
    rollingWindow: z.number().int().min(1).max(1000).optional(),
    trajectoryHead: z.number().int().min(1).max(1000).optional(),
    trajectoryTail: z.number().int().min(1).max(1000).optional(),
  })
  .strict();
export type MlParams = z.infer<typeof MlParams>;

/** The longest object key S3 allows, so the longest prefix that can select anything. */
export const MAX_REPROCESS_PREFIX = 1024;

/**
 * Which raw objects a reprocess re-ingests (job 1's --reprocess-prefix / --reprocess-since). Each
 * rule of the prefix carries its own words, so a refusal says which one the value broke.
 */
export const Reprocess = z
  .object({
    /**
     * A key prefix inside the raw bucket, full keys (e.g. `experiments/experiment.vqe/`); empty or
     * absent: every object under the raw root. Never `/` first (S3 keys have no leading slash) or `-`
     * first (the job's argument parser would read it as an option); printable characters only.
     */
    prefix: z
      .string({ error: 'expected a text (an object-key prefix such as "experiments/experiment.vqe/")' })
      .max(MAX_REPROCESS_PREFIX, { error: `expected at most ${MAX_REPROCESS_PREFIX} characters` })
      .refine((p) => !p.startsWith('/'), {
        error: 'expected a key prefix without a leading "/" (keys are full keys in the bucket, e.g. "experiments/")',
      })
      .refine((p) => !p.startsWith('-'), { error: 'expected a key prefix that does not start with "-"' })
      // Python's str.isprintable(), which job 1 applies again: control, format and separator
      // characters other than the space (tab, newline, no-break and zero-width spaces...).
      .refine((p) => !/(?! )[\p{C}\p{Z}]/u.test(p), {
        error: 'expected no control characters or invisible spaces (tab, newline, no-break space, ...)',
      })
      .refine((p) => p === '' || p.trim() !== '', { error: 'expected a key prefix, not only spaces' })
      .optional(),
    /**
     * Objects the ledger recorded at or after this instant are re-ingested: an ISO-8601 date-time
     * with its zone (`2026-11-30T00:00:00Z`, `2026-11-30T09:00:00+02:00`) or a date (`2026-11-30`,
     * midnight UTC). A time without a zone is refused: which clock it meant cannot be guessed.
     */
    since: z.union([z.iso.date(), z.iso.datetime({ offset: true })]).optional(),
  })
  .strict();
export type Reprocess = z.infer<typeof Reprocess>;

export const PipelineInput = z
  .object({
    /** Bound job 1 to this many new raw files (a large backlog then takes several runs). */
    maxFiles: z.number().int().positive().optional(),
    /** Recompute the two ML tables from all base rows (one atomic overwrite per table). */
    fullRefresh: z.boolean().optional(),
    /** Run job 1 only. */
    skipMlFeatures: z.boolean().optional(),
    /** Run job 2 only (job 1 is skipped): new mlParams or a fullRefresh without ingesting anything. */
    mlOnly: z.boolean().optional(),
    /** W/H/T of job 2 (SPEC section 3); the deployed defaults apply when absent. */
    mlParams: MlParams.optional(),
    /**
     * Re-ingest raw files already ingested (after a change to job 1's features): their rows are
     * replaced, in one batch. {} re-ingests every object under the raw root.
     */
    reprocess: Reprocess.optional(),
    /** Free text recorded in the logs and the summary event (e.g. "schedule", "console"). */
    trigger: z.string().min(1).max(64).optional(),
  })
  .strict();
export type PipelineInput = z.infer<typeof PipelineInput>;

/** What a table-maintenance run does (spark-jobs/quantum_pipeline/maintenance.py); every field set. */
export const MaintenanceOptions = z
  .object({
    /** Tagged snapshots younger than this many days are kept. */
    retentionDays: z.number().int().min(1).max(3650),
    /** The last N snapshots of each table are kept, whatever their age. */
    retainLast: z.number().int().min(1).max(1000),
    /** Compaction's target data file size (1 MiB to 2 GiB). */
    targetFileSizeBytes: z
      .number()
      .int()
      .min(1024 * 1024)
      .max(2 * 1024 * 1024 * 1024),
    /** Only these tables; absent: every table of the namespace. */
    tables: z
      .array(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/))
      .min(1)
      .optional(),
  })
  .strict();
export type MaintenanceOptions = z.infer<typeof MaintenanceOptions>;

/** Event of the validate-input Lambda: the raw execution input plus the execution context. */
export const ValidateInputEvent = z.object({
  input: z.unknown(),
  executionName: z.string().min(1),
});
/** Result of validate-input: what the rest of the execution reads at $.run. */
export const RunContext = z.object({
  /** The Spark jobs' --run-id: the execution name (a letter or digit, then letters, digits, `.`, `_`, `:` or `-`; 128 at most). */
  runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
  options: PipelineInput,
  skipMlFeatures: z.boolean(),
  /** Job 1 skipped (options.mlOnly); validate-input always sets it, so the state machine's Choice finds it. */
  mlOnly: z.boolean().optional(),
  /** Set by the table-maintenance state machine's validation only: what its job does. */
  maintenance: MaintenanceOptions.optional(),
});
export type RunContext = z.infer<typeof RunContext>;

// ---------------------------------------------------------------------------------------------
// Run slot: at most one execution of a state machine works on the tables at a time.
// ---------------------------------------------------------------------------------------------
export const AcquireRunSlotEvent = z.object({
  stateMachineArn: z.string().min(1),
  executionArn: z.string().min(1),
  /** $$.Execution.StartTime (ISO 8601). The oldest running execution holds the slot. */
  startTime: z.string().min(1),
  /**
   * Other state machines that share the slot (the feature pipeline and table maintenance): the
   * oldest running execution of them all holds it. @default none
   */
  sharedWith: z.array(z.string().min(1)).optional(),
});
export type AcquireRunSlotEvent = z.infer<typeof AcquireRunSlotEvent>;
/** The slot this execution holds, and how many executions were running when it took it. */
export const RunSlot = z.object({ holder: z.string(), runningExecutions: z.number().int().positive() });
export type RunSlot = z.infer<typeof RunSlot>;

// ---------------------------------------------------------------------------------------------
// Spark jobs
// ---------------------------------------------------------------------------------------------
/** Everything a spark-submit operator lets you set, independent of where the job runs. */
export const JobSpec = z.object({
  name: z.string().min(1).max(200),
  /** Script path relative to the backend's artifacts location, or an absolute URI/path. */
  entryPoint: z.string().min(1),
  entryPointArguments: z.array(z.string()),
  /** --py-files, resolved like entryPoint. */
  pyFiles: z.array(z.string()),
  sparkConf: z.record(z.string(), z.string()),
  resources: z.object({
    driverCores: z.number().int().positive(),
    driverMemory: z.string().regex(/^\d+[mg]$/),
    executorCores: z.number().int().positive(),
    executorMemory: z.string().regex(/^\d+[mg]$/),
    /** Fixed executor count; absent = the backend's dynamic allocation. */
    numExecutors: z.number().int().positive().optional(),
  }),
  /** Extra spark-submit arguments passed through verbatim (e.g. ["--packages", "g:a:v"]). */
  extraSubmitArgs: z.array(z.string()),
  /** Idempotency token: a retried submit with the same token starts no second job. */
  clientToken: z.string().min(1).max(64),
});
export type JobSpec = z.infer<typeof JobSpec>;

export const BackendKind = z.enum(['emr-serverless', 'standalone']);
export type BackendKind = z.infer<typeof BackendKind>;

/** What the state machine keeps about a submitted job (at $.<phase>.job). */
export const JobHandle = z.object({
  backend: BackendKind,
  jobId: z.string().min(1),
  kind: SparkJobKind,
  runId: z.string().min(1),
  /** ISO 8601; the job-status Lambda measures the job timeout from here. */
  submittedAt: z.string().min(1),
  timeoutSeconds: z.number().int().positive(),
});
export type JobHandle = z.infer<typeof JobHandle>;

/** Backend-neutral job state. CANCELLING and the pre-run states are not final. */
export const JobState = z.enum(['PENDING', 'RUNNING', 'CANCELLING', 'SUCCEEDED', 'FAILED', 'CANCELLED']);
export type JobState = z.infer<typeof JobState>;
export const FINAL_JOB_STATES: ReadonlySet<JobState> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

export const JobStatus = z.object({
  state: JobState,
  /** The backend's own state name (e.g. EMR "SCHEDULED", standalone "RELAUNCHING"). */
  backendState: z.string(),
  /** Failure reason or log tail when the backend gives one (kept short for the payload limit). */
  detail: z.string().max(4000).optional(),
  elapsedSeconds: z.number().nonnegative(),
});
export type JobStatus = z.infer<typeof JobStatus>;

/** Event of submit-job. The clientToken comes from the state machine (States.UUID per attempt). */
export const SubmitJobEvent = z.object({
  kind: SparkJobKind,
  run: RunContext,
  clientToken: z.string().min(1).max(64),
});
export type SubmitJobEvent = z.infer<typeof SubmitJobEvent>;

export const JobStatusEvent = z.object({ job: JobHandle });
export const CancelJobEvent = z.object({ job: JobHandle.optional() });
export const CancelJobResult = z.object({ cancelled: z.boolean(), jobId: z.string().optional(), note: z.string() });
export type CancelJobResult = z.infer<typeof CancelJobResult>;
export const ReadSummaryEvent = z.object({ job: JobHandle });

// ---------------------------------------------------------------------------------------------
// Run summary written by the Spark jobs (spark-jobs/quantum_pipeline/run_summary.py)
// ---------------------------------------------------------------------------------------------
export const QuarantinedFile = z.object({ key: z.string(), etag: z.string(), reason: z.string() });
/** A data-quality gate that fired (spark-jobs/quantum_pipeline/quality.py). */
export const DataQualityFinding = z.object({
  gate: z.string().min(1),
  severity: z.enum(['warning', 'error']),
  message: z.string(),
  /** The first offending file keys or experiment ids (20 at most); offending_total has the count. */
  offending: z.array(z.string()),
  offending_total: z.number().int().nonnegative(),
});
export type DataQualityFinding = z.infer<typeof DataQualityFinding>;
export const RunSummary = z.object({
  job: z.string(),
  run_id: z.string(),
  batch_id: z.string(),
  status: z.enum(['succeeded', 'no_changes']),
  started_at: z.string(),
  finished_at: z.string(),
  duration_seconds: z.number(),
  resumed_batch: z.boolean(),
  new_rows: z.record(z.string(), z.number().int()),
  tags: z.record(z.string(), z.string()),
  files: z.record(z.string(), z.number().int().nullable()),
  quarantined: z.array(QuarantinedFile),
  quarantined_total: z.number().int(),
  details: z.record(z.string(), z.unknown()),
  /** Absent in summaries written before the gates existed: no finding. */
  findings: z.array(DataQualityFinding).optional(),
});
export type RunSummary = z.infer<typeof RunSummary>;

/** What read-summary returns into the execution: the summary, cut to fit the payload limit. */
/**
 * What became of a reprocess, from job 1's `details.reprocess`: `deferred` when the run finished
 * an interrupted batch instead (the reprocess has to be started again).
 */
export const ReprocessOutcome = z.object({
  status: z.enum(['done', 'deferred', 'nothing_selected']),
  prefix: z.string().nullish(),
  since: z.string().nullish(),
  objects: z.number().int().optional(),
  experiments: z.number().int().optional(),
  reason: z.string().optional(),
});
export type ReprocessOutcome = z.infer<typeof ReprocessOutcome>;

export const JobOutcome = z.object({
  kind: SparkJobKind,
  runId: z.string(),
  status: z.enum(['succeeded', 'no_changes']),
  batchId: z.string(),
  newRows: z.record(z.string(), z.number().int()),
  tags: z.record(z.string(), z.string()),
  quarantinedTotal: z.number().int(),
  /** At most 20 entries; quarantinedTotal has the full count. */
  quarantined: z.array(QuarantinedFile),
  durationSeconds: z.number(),
  summaryUri: z.string(),
  /** Present when job 1 was asked to reprocess, or resumed a reprocess batch. */
  reprocess: ReprocessOutcome.optional(),
});
export type JobOutcome = z.infer<typeof JobOutcome>;

/** detail of the "ML Features Updated" EventBridge event (source SUMMARY_EVENT_SOURCE). */
export const SUMMARY_EVENT_SOURCE = 'quantum-pipeline.features';
export const SUMMARY_EVENT_DETAIL_TYPE = 'ML Features Updated';
/** detail-type of one data-quality finding (same source); detail: FindingEventDetail. */
export const FINDING_EVENT_DETAIL_TYPE = 'Data Quality Finding';
export const FindingEventDetail = z.object({
  runId: z.string(),
  job: SparkJobKind,
  batchId: z.string(),
  gate: z.string(),
  severity: z.enum(['warning', 'error']),
  message: z.string(),
  offending: z.array(z.string()),
  offendingTotal: z.number().int().nonnegative(),
  /** `offending` as one line ("a, b (and 3 more)") for the alert's text. */
  offendingText: z.string(),
  summaryUri: z.string(),
});
export type FindingEventDetail = z.infer<typeof FindingEventDetail>;

// ---------------------------------------------------------------------------------------------
// Deployed settings of the Spark Lambdas: one JSON environment variable, PIPELINE_SETTINGS,
// written by infra/ from the typed CDK config and parsed with this schema at module load.
// ---------------------------------------------------------------------------------------------
export const PipelineSettings = z.object({
  /** Iceberg catalog name the Spark conf defines (local: JDBC, AWS: Glue). */
  catalog: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
  namespace: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/),
  /** Root of the raw results, e.g. s3a://raw-results/experiments (s3:// on EMR). */
  rawUri: z.string().regex(/^[a-z][a-z0-9+.-]*:\/\/\S+$/),
  /** Folder of the run summaries: <summaryUri>/<job>/<runId>.json. */
  summaryUri: z.string().regex(/^s3a?:\/\/[^/\s]+(\/\S*)?$/),
  sparkConf: z.record(z.string(), z.string()),
  resources: JobSpec.shape.resources,
  extraSubmitArgs: z.array(z.string()),
  jobTimeoutSeconds: z.object({
    features: z.number().int().positive(),
    'ml-features': z.number().int().positive(),
    /** Absent: the maintenance job cannot be submitted (a stack without table maintenance). */
    maintenance: z.number().int().positive().optional(),
  }),
  mlDefaults: z.object({
    rollingWindow: z.number().int().min(1).max(1000),
    trajectoryHead: z.number().int().min(1).max(1000),
    trajectoryTail: z.number().int().min(1).max(1000),
  }),
});
export type PipelineSettings = z.infer<typeof PipelineSettings>;

/** Names of the environment variables the Spark Lambdas read (infra/ sets them). */
export const ENV = {
  backend: 'SPARK_BACKEND',
  artifactsUri: 'SPARK_ARTIFACTS_URI',
  settings: 'PIPELINE_SETTINGS',
  emrApplicationId: 'EMR_APPLICATION_ID',
  emrExecutionRoleArn: 'EMR_EXECUTION_ROLE_ARN',
  emrLogUri: 'EMR_LOG_URI',
  sparkRestUrl: 'SPARK_REST_URL',
  sparkMasterUrl: 'SPARK_MASTER_URL',
  sparkPython: 'SPARK_PYTHON',
  sparkWorkDir: 'SPARK_WORK_DIR',
  s3Endpoint: 'S3_ENDPOINT',
  s3ForcePathStyle: 'S3_FORCE_PATH_STYLE',
  /** The stack's own bus, where read-summary puts "Data Quality Finding" events. */
  eventBusName: 'EVENT_BUS_NAME',
} as const;

// ---------------------------------------------------------------------------------------------
// Object arrivals: S3 "Object Created" events under experiments/ start one run per quiet window
// (infra/platform/object-arrivals.ts explains the mechanism).
// ---------------------------------------------------------------------------------------------
/** The key prefix of the raw records whose arrival starts the pipeline (the rule's pattern). */
export const RAW_OBJECTS_PREFIX = 'experiments/';
/** Source and detail-type of the event the debounce state machine puts when a quiet window closed. */
export const OBJECTS_EVENT_SOURCE = 'quantum-pipeline.object-arrivals';
export const OBJECTS_EVENT_DETAIL_TYPE = 'Raw Objects Settled';
/** What S3 sends to EventBridge for a new object (the fields the debounce step reads). */
export const ObjectCreatedEvent = z.object({
  source: z.literal('aws.s3'),
  'detail-type': z.literal('Object Created'),
  detail: z.object({
    bucket: z.object({ name: z.string().min(1) }),
    object: z.object({ key: z.string().min(1) }),
  }),
});
export type ObjectCreatedEvent = z.infer<typeof ObjectCreatedEvent>;
/** One quiet window, whole seconds, RFC 3339 (what the debounce execution waits for: until `end`). */
export const QuietWindow = z.object({ start: z.iso.datetime(), end: z.iso.datetime() });
export type QuietWindow = z.infer<typeof QuietWindow>;
/** The input of a debounce execution: the same for every object of the window, so a repeated start is idempotent. */
export const DebounceInput = z.object({ window: QuietWindow });
export type DebounceInput = z.infer<typeof DebounceInput>;
/** Environment of the debounce function (infra/ sets them). */
export const OBJECT_ARRIVALS_ENV = {
  /** The debounce state machine the function starts, one execution per window. */
  stateMachineArn: 'DEBOUNCE_STATE_MACHINE_ARN',
  /** The window length in seconds (quietMinutes x 60 on AWS; tests use seconds). */
  quietSeconds: 'QUIET_SECONDS',
} as const;
