/**
 * The run report's shapes: the report data job 2 writes (spark-jobs/quantum_pipeline/report_data.py),
 * the pages' view models the renderer draws, and the write-report step's event and result.
 * No AWS SDK here: infra/ imports this file.
 */
import { z } from 'zod';

/** Environment of the write-report function (infra/ sets it). */
export const REPORT_ENV = {
  /** The bucket the pages go to: s3://<bucket>/reports/<run id>.html */
  bucket: 'REPORT_BUCKET',
  /** Folder of the run summaries and report data (s3:// or s3a://). */
  summaryUri: 'SUMMARY_URI',
  /** S3-compatible endpoint (local profile); path style when set. */
  s3Endpoint: 'S3_ENDPOINT',
  /** The batch report only: where the VQE batch keeps its run states (BatchSettings.stateBucket/statePrefix). */
  batchStateBucket: 'BATCH_STATE_BUCKET',
  batchStatePrefix: 'BATCH_STATE_PREFIX',
} as const;

export const REPORT_PREFIX = 'reports/';
/** Within this many hartree of the exact energy a result is "chemically accurate" (1 kcal/mol). */
export const CHEMICAL_ACCURACY_HARTREE = 0.0016;
/** Job 2's report data: <summaryUri>/ml_feature_processing/<runId>.report-data.json */
export const REPORT_DATA_SUFFIX = '.report-data.json';

// ---------------------------------------------------------------------------------------------
// Report data (written by job 2; snake_case as the run summaries)
// ---------------------------------------------------------------------------------------------
const Group = { molecule: z.string(), basis: z.string(), optimizer: z.string(), ansatz: z.string() };

export const ConvergenceGroup = z.object({
  ...Group,
  runs: z.number().int().min(0),
  samples: z.array(
    z.object({
      experiment_id: z.string(),
      init_strategy: z.string(),
      points: z.array(z.tuple([z.number(), z.number()])),
    }),
  ),
});
export type ConvergenceGroup = z.infer<typeof ConvergenceGroup>;

export const EnergyErrorGroup = z.object({
  ...Group,
  runs: z.number().int().min(1),
  /** exact: a known reference (e.g. FCI); best_seen: the lowest energy of the run for that molecule and basis. */
  reference_kind: z.enum(['exact', 'best_seen']),
  reference_energy: z.number(),
  best_energy: z.number(),
  best_error: z.number(),
  median_error: z.number(),
  within_chemical_accuracy: z.number().int().min(0),
});
export type EnergyErrorGroup = z.infer<typeof EnergyErrorGroup>;

export const HistoryRow = z.object({
  processing_name: z.string(),
  batch_id: z.string(),
  at: z.string(),
  total_rows: z.number().int(),
  rows: z.record(z.string(), z.number().int()),
});
export type HistoryRow = z.infer<typeof HistoryRow>;

export const ReportData = z.object({
  version: z.literal(1),
  run_id: z.string(),
  batch_id: z.string(),
  generated_at: z.string(),
  experiments: z.number().int().min(0),
  history: z.array(HistoryRow),
  convergence: z.object({
    samples_per_group: z.number().int(),
    max_points: z.number().int(),
    groups_total: z.number().int(),
    groups: z.array(ConvergenceGroup),
  }),
  energy_error: z.object({ chemical_accuracy_hartree: z.number(), groups: z.array(EnergyErrorGroup) }),
});
export type ReportData = z.infer<typeof ReportData>;

// ---------------------------------------------------------------------------------------------
// View models: what a page shows, already gathered (the renderer reads nothing)
// ---------------------------------------------------------------------------------------------
export interface JobView {
  readonly label: string;
  readonly status: string;
  readonly durationSeconds: number | null;
  readonly batchId: string | null;
  readonly newRows: Readonly<Record<string, number>>;
}

export interface FilesView {
  readonly listed: number | null;
  readonly inBatch: number;
  readonly ingested: number;
  readonly quarantined: number;
  /** At most the summary's list (100); `quarantined` is the full count. */
  readonly quarantinedFiles: readonly { readonly key: string; readonly reason: string }[];
  readonly duplicateExperiments: number | null;
}

export interface HistoryPoint {
  readonly job: string;
  readonly at: string;
  readonly batchId: string;
  readonly totalRows: number;
  /** From that run's summary when it is among the last ones read. */
  readonly durationSeconds: number | null;
  readonly current: boolean;
}

export interface PhysicsView {
  readonly experiments: number;
  readonly convergence: readonly ConvergenceGroup[];
  readonly groupsTotal: number;
  readonly energyError: readonly EnergyErrorGroup[];
  /** Where the data came from, in words (e.g. "job 2 of run local-…"). */
  readonly source: string;
}

export interface PipelineRunView {
  readonly kind: 'pipeline-run';
  readonly runId: string;
  readonly generatedAt: string;
  /** The execution's failure when the report is written on the failure path. */
  readonly failure?: { readonly error: string; readonly cause: string };
  readonly jobs: readonly JobView[];
  readonly files: FilesView | null;
  readonly history: readonly HistoryPoint[];
  readonly physics: PhysicsView | null;
}

export interface LaneView {
  readonly lane: string;
  readonly planned: number;
  readonly done: number;
  readonly failed: number;
  readonly timedOut: number;
  readonly inProgress: number;
  readonly pending: number;
  /** Records (S3 objects) the lane's runs of this batch delivered to raw-results, as CheckRun counted them. */
  readonly records: number;
  readonly meanRunSeconds: number | null;
  readonly etaSeconds: number | null;
}

export interface BatchView {
  readonly kind: 'batch';
  readonly batchId: string;
  readonly tier: number;
  readonly startedAt: string;
  readonly generatedAt: string;
  readonly finished: boolean;
  readonly lanes: readonly LaneView[];
  /** Ended runs: key, lane, status and seconds, in the order they started. */
  readonly runs: readonly {
    readonly key: string;
    readonly lane: string;
    readonly status: string;
    readonly seconds: number;
  }[];
  readonly physics: PhysicsView | null;
  /** The batch execution's failure when the page is written on its failure path. */
  readonly failure?: { readonly error: string; readonly cause: string };
}

export type ReportView = PipelineRunView | BatchView;

// ---------------------------------------------------------------------------------------------
// The write-report step
// ---------------------------------------------------------------------------------------------
/** $.failure of an execution: what a Catch put there (Error and Cause). */
const ExecutionFailure = z.object({ Error: z.string().optional(), Cause: z.string().optional() }).passthrough();

export const WriteReportEvent = z.object({
  runId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
  /** $.failure of the execution, on the failure path. */
  failure: ExecutionFailure.optional(),
});
export type WriteReportEvent = z.infer<typeof WriteReportEvent>;

/** Event of the batch report step: the batch's id (the BatchRef of the batch state machine). */
export const WriteBatchReportEvent = z
  .object({
    batchId: z.string().min(1).max(200),
    /** $.failure of the batch execution, on its failure path. */
    failure: ExecutionFailure.optional(),
  })
  .passthrough();

export const WriteReportResult = z.object({
  written: z.boolean(),
  /** s3://<bucket>/reports/<run id>.html */
  uri: z.string(),
  /** A presigned https link to the page (AWS), when configured. */
  url: z.string().optional(),
  /** Why no page was written (the pipeline goes on). */
  error: z.string().optional(),
});
export type WriteReportResult = z.infer<typeof WriteReportResult>;

export function reportKey(id: string): string {
  return `${REPORT_PREFIX}${id}.html`;
}
