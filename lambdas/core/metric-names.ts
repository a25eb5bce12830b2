/**
 * The names of the pipeline's CloudWatch metrics: namespace, dimensions, Job values, every metric
 * with its unit, and the variable that carries the stack's name. The Lambda steps write them
 * (metrics.ts); the CDK app graphs and alarms on them (infra/platform/dashboard.ts, alerts.ts)
 * through contract.ts. Plain constants, no imports, so both sides share one list.
 */
export const METRIC_NAMESPACE = 'QuantumPipeline';
/** The variable pipelineFunction (infra/common/pipeline-function.ts) sets to the stack's name. */
export const STACK_NAME_ENV = 'QP_STACK_NAME';

export const METRIC_DIMENSIONS = { stack: 'Stack', job: 'Job', table: 'Table', lane: 'Lane' } as const;
/** The values of the Job dimension. */
export const METRIC_JOBS = {
  features: 'feature_processing',
  mlFeatures: 'ml_feature_processing',
  vqeBatch: 'vqe_batch',
  r2Sync: 'r2_sync',
  maintenance: 'table_maintenance',
} as const;

/** Every metric the steps emit, with its unit; docs/operations.md explains each. */
export const METRICS = {
  // job 1 and job 2 (read-summary, job-status)
  durationSeconds: { name: 'DurationSeconds', unit: 'Seconds' },
  newRows: { name: 'NewRows', unit: 'Count' },
  filesListed: { name: 'FilesListed', unit: 'Count' },
  filesIngested: { name: 'FilesIngested', unit: 'Count' },
  filesQuarantined: { name: 'FilesQuarantined', unit: 'Count' },
  duplicateExperiments: { name: 'DuplicateExperiments', unit: 'Count' },
  jobElapsedSeconds: { name: 'JobElapsedSeconds', unit: 'Seconds' },
  // table maintenance, per table (read-summary): the current snapshot's data files and bytes, and
  // the table's snapshots, before and after the run
  dataFilesBefore: { name: 'DataFilesBefore', unit: 'Count' },
  dataFilesAfter: { name: 'DataFilesAfter', unit: 'Count' },
  dataBytesBefore: { name: 'DataBytesBefore', unit: 'Bytes' },
  dataBytesAfter: { name: 'DataBytesAfter', unit: 'Bytes' },
  snapshotsBefore: { name: 'SnapshotsBefore', unit: 'Count' },
  snapshotsAfter: { name: 'SnapshotsAfter', unit: 'Count' },
  // VQE batch, per lane (check-run)
  runsDone: { name: 'RunsDone', unit: 'Count' },
  runsFailed: { name: 'RunsFailed', unit: 'Count' },
  runsTimedOut: { name: 'RunsTimedOut', unit: 'Count' },
  runsPending: { name: 'RunsPending', unit: 'Count' },
  etaSeconds: { name: 'EtaSeconds', unit: 'Seconds' },
  meanRunSeconds: { name: 'MeanRunSeconds', unit: 'Seconds' },
  // R2 sync, per table (sync-table)
  objectsCopied: { name: 'ObjectsCopied', unit: 'Count' },
  bytesCopied: { name: 'BytesCopied', unit: 'Bytes' },
  objectsDeleted: { name: 'ObjectsDeleted', unit: 'Count' },
  bytesDeleted: { name: 'BytesDeleted', unit: 'Bytes' },
  syncSeconds: { name: 'SyncSeconds', unit: 'Seconds' },
} as const satisfies Record<string, { name: string; unit: MetricUnit }>;
export type MetricKey = keyof typeof METRICS;

/** CloudWatch's units (MetricDatum.Unit). */
export const METRIC_UNITS = [
  'Seconds',
  'Microseconds',
  'Milliseconds',
  'Bytes',
  'Kilobytes',
  'Megabytes',
  'Gigabytes',
  'Terabytes',
  'Bits',
  'Kilobits',
  'Megabits',
  'Gigabits',
  'Terabits',
  'Percent',
  'Count',
  'Bytes/Second',
  'Kilobytes/Second',
  'Megabytes/Second',
  'Gigabytes/Second',
  'Terabytes/Second',
  'Bits/Second',
  'Kilobits/Second',
  'Megabits/Second',
  'Gigabits/Second',
  'Terabits/Second',
  'Count/Second',
  'None',
] as const;
export type MetricUnit = (typeof METRIC_UNITS)[number];
