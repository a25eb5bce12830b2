/**
 * The shapes of the "r2 sync" state machine: its console input, the settings its Lambdas are
 * deployed with, and the objects its states pass on. SPEC section 6: the two ML tables (data and
 * Iceberg metadata) go from the features warehouse to `<bucket>/features/<table>/` on R2.
 */
import { z } from 'zod';

export const ML_TABLES = ['ml_iteration_features', 'ml_run_summary'] as const;
export const SyncTable = z.enum(ML_TABLES);
export type SyncTable = z.infer<typeof SyncTable>;

export const SYNC_EVENT_SOURCE = 'quantum-pipeline.r2-sync';
export const SYNC_EVENT_DETAIL_TYPE = 'R2 Sync Completed';

/** The environment variables the sync Lambdas read: their settings and the R2 token's secret. */
export const SYNC_ENV = {
  settings: 'SYNC_SETTINGS',
  credentialsSecret: 'R2_CREDENTIALS_SECRET_ARN',
} as const;

/** Keys of the health check's probe objects: never synced, never deleted by a sync. */
export const HEALTH_PROBE_PREFIX = '.qp-sync-health/';

const prefix = z.string().regex(/^$|^[^/].*\/$/, 'expected a key prefix ending in / (or empty), not starting with /');

/** The delete guard's limits when the deployment does not set them (SyncSettings, the CDK props, r2.* config). */
export const DELETE_GUARD_DEFAULTS = { maxDeleteFraction: 0.5, maxDeleteCount: 1000 } as const;

export const EndpointSettings = z
  .object({
    bucket: z.string().min(3).max(63),
    /** Key prefix the table folders are under. */
    prefix,
    /** Custom S3 endpoint (R2, Garage, LocalStack); the SDK's default endpoint when absent. */
    endpoint: z.url().optional(),
    region: z.string().min(1),
    forcePathStyle: z.boolean(),
  })
  .strict();
export type EndpointSettings = z.infer<typeof EndpointSettings>;

export const SyncSettings = z
  .object({
    source: EndpointSettings,
    destination: EndpointSettings,
    tables: z.array(SyncTable).min(1),
    transfers: z.number().int().min(1).max(64),
    checkers: z.number().int().min(1).max(64),
    partSizeMiB: z.number().int().min(5).max(5120),
    multipartThresholdMiB: z.number().int().min(5).max(5120),
    partConcurrency: z.number().int().min(1).max(16),
    /** Seconds left unused at the end of each invocation for in-flight copies to finish. */
    safetyMarginSeconds: z.number().int().min(10).max(600),
    /**
     * A table sync whose plan deletes more than this share of the mirror's objects deletes nothing
     * (rclone --max-delete, as a fraction). Defaulted so settings deployed before it still parse.
     */
    maxDeleteFraction: z.number().min(0).max(1).default(DELETE_GUARD_DEFAULTS.maxDeleteFraction),
    /** A table sync whose plan deletes more objects than this deletes nothing (rclone --max-delete). */
    maxDeleteCount: z.number().int().min(0).default(DELETE_GUARD_DEFAULTS.maxDeleteCount),
  })
  .strict();
export type SyncSettings = z.infer<typeof SyncSettings>;

/** Console input (strict: an unknown key is an error). */
export const SyncInput = z
  .object({
    /** A subset of the configured tables; all of them when absent. */
    tables: z.array(SyncTable).min(1).optional(),
    /** Report what would be copied and deleted; change nothing. */
    dryRun: z.boolean().optional(),
    /** Free text carried into the logs and the summary event ("schedule", "features-updated", ...). */
    trigger: z.string().min(1).max(64).optional(),
    /**
     * Mirror an empty source: without it, a table whose source listing is empty while its mirror
     * is not fails with SyncDeleteGuardError and nothing is deleted (a wrong prefix, a dropped
     * table or a listing fault would otherwise wipe the mirror).
     */
    allowEmptySource: z.boolean().optional(),
  })
  .strict();
export type SyncInput = z.infer<typeof SyncInput>;

export const HealthCheckEvent = z.object({ input: z.unknown(), executionName: z.string().min(1) });

const Tally = z.object({ objects: z.number().int().min(0), bytes: z.number().min(0) });
export type TallyShape = z.infer<typeof Tally>;

/** What the health check hands on: the validated plan of the run. */
export const SyncRun = z.object({
  runId: z.string().min(1),
  tables: z.array(SyncTable).min(1),
  dryRun: z.boolean(),
  trigger: z.string(),
  /** From the console input; defaulted so a run planned before the field existed still parses. */
  allowEmptySource: z.boolean().default(false),
});
export type SyncRun = z.infer<typeof SyncRun>;

/** Per table, summed over the invocations a sync needed. */
export const TableProgress = z.object({
  table: SyncTable,
  complete: z.boolean(),
  invocations: z.number().int().min(0),
  copied: Tally,
  deleted: Tally,
  unchanged: Tally,
  checked: z.number().int().min(0),
  pending: z.number().int().min(0),
  durationMs: z.number().min(0),
  /** A dry run only: the delete guard would refuse this plan's deletions (why, in words). */
  deletionsRefused: z.string().optional(),
  /** The mirror's current metadata file, as its pointer (metadata/version-hint.text, latest.json) names it. */
  metadata: z.string().optional(),
});
export type TableProgress = z.infer<typeof TableProgress>;

/** Event of sync-table: the run, the table, and what earlier invocations already did. */
export const SyncTableEvent = z.object({
  run: SyncRun,
  table: SyncTable,
  progress: TableProgress.optional(),
});
