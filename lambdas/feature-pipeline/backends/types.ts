import type { BackendKind, JobSpec, JobState } from '../contract';

export interface BackendJobStatus {
  readonly state: JobState;
  /** The backend's own state name. */
  readonly backendState: string;
  readonly detail?: string;
}

export interface CancelOutcome {
  readonly cancelled: boolean;
  readonly note: string;
}

/** Where Spark jobs run: EMR Serverless on AWS, a standalone master locally. */
export interface SparkBackend {
  readonly kind: BackendKind;
  submit(spec: JobSpec): Promise<{ jobId: string }>;
  describe(jobId: string): Promise<BackendJobStatus>;
  cancel(jobId: string): Promise<CancelOutcome>;
}

/** `base` + `path` unless `path` is already absolute (a URI or a rooted file path). */
export function resolveArtifact(base: string, path: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(path) || path.startsWith('/')) return path;
  return `${base.replace(/\/+$/, '')}/${path}`;
}

/** spark-submit `--conf` pairs for the resources of a spec (both backends set them the same way). */
export function resourceConf(spec: JobSpec): Record<string, string> {
  const { resources } = spec;
  return {
    'spark.driver.cores': String(resources.driverCores),
    'spark.driver.memory': resources.driverMemory,
    'spark.executor.cores': String(resources.executorCores),
    'spark.executor.memory': resources.executorMemory,
    ...(resources.numExecutors !== undefined
      ? { 'spark.executor.instances': String(resources.numExecutors), 'spark.dynamicAllocation.enabled': 'false' }
      : {}),
  };
}
