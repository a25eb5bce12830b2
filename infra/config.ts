/**
 * The one typed configuration of the CDK app, validated with zod. bin/app.ts builds it from the
 * CDK context (cdk.json and `-c key=value`) and passes it down; constructs never read context.
 */
import { z } from 'zod';
import { describeIssues } from '../lambdas/core/contract';
import { bucketName, ctx, fromContext, memory, scheduleExpression } from './common/config-schema';
import { LOG_LEVELS } from './common/pipeline-function';
import { MaintenanceConfig } from './maintenance/maintenance-config';
import { R2Config, r2ConfigProblems } from './r2-sync/r2-config';
import { BatchConfig, batchConfigProblems } from './vqe-batch/batch-config';

export { type R2Target, r2Target } from './r2-sync/r2-config';
export { batchEnabled } from './vqe-batch/batch-config';

const FEATURES_POLICY = {
  retries: 3,
  retryIntervalSeconds: 1200,
  backoffRate: 2,
  maxRetryDelaySeconds: 3600,
  timeoutSeconds: 7200,
  slaSeconds: 5400,
};
const ML_FEATURES_POLICY = {
  retries: 2,
  retryIntervalSeconds: 900,
  backoffRate: 2,
  maxRetryDelaySeconds: 3600,
  timeoutSeconds: 3600,
  slaSeconds: 2700,
};

/** A job's retry and time policy; every field defaults on its own, so `{"retries": 5}` is enough. */
const jobPolicy = (defaults: typeof FEATURES_POLICY) =>
  z
    .object({
      /** Attempts after the first (SPEC section 4). */
      retries: z.number().int().min(0).max(10).default(defaults.retries),
      retryIntervalSeconds: z.number().int().positive().default(defaults.retryIntervalSeconds),
      backoffRate: z.number().min(1).max(10).default(defaults.backoffRate),
      maxRetryDelaySeconds: z.number().int().positive().default(defaults.maxRetryDelaySeconds),
      /** Per attempt, measured from submission; the job is cancelled when it is exceeded. */
      timeoutSeconds: z.number().int().positive().default(defaults.timeoutSeconds),
      /** An alarm fires while an attempt of this job runs longer than this (metric JobElapsedSeconds). */
      slaSeconds: z.number().int().positive().default(defaults.slaSeconds),
    })
    .strict();
export type JobPolicy = z.infer<ReturnType<typeof jobPolicy>>;

/**
 * The local profile's default `jobs.*.retryIntervalSeconds`: a job that dies on this machine is
 * retried in half a minute (then 60 s, 120 s with the backoff), not after SPEC section 4's 20 / 15
 * minutes, which stay the aws profile's defaults. A value given in `jobs` still wins.
 */
export const LOCAL_RETRY_INTERVAL_SECONDS = 30;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** The context with the local profile's job defaults filled in where `jobs` leaves them out. */
function withProfileJobDefaults(context: Record<string, unknown>): Record<string, unknown> {
  const jobs = context.jobs === undefined ? {} : fromContext(context.jobs);
  if (fromContext(context.profile) !== 'local' || !isRecord(jobs)) return context; // the schema names a bad value
  const filled = { ...jobs };
  for (const name of ['features', 'mlFeatures']) {
    const job = jobs[name] === undefined ? {} : jobs[name];
    if (isRecord(job)) filled[name] = { retryIntervalSeconds: LOCAL_RETRY_INTERVAL_SECONDS, ...job };
  }
  return { ...context, jobs: filled };
}

export const AppConfig = z
  .object({
    profile: z.enum(['aws', 'local']).default('aws'),
    stackName: z
      .string()
      .regex(/^[A-Za-z][A-Za-z0-9-]{0,127}$/, 'expected a CloudFormation stack name')
      .default('QuantumPipeline'),
    /** Bucket names; on AWS the default lets CloudFormation generate unique names. */
    buckets: ctx(
      z
        .object({
          rawResults: bucketName.optional(),
          features: bucketName.optional(),
          artifacts: bucketName.optional(),
          /** Days an overwritten or deleted raw-results object stays recoverable (the bucket is versioned). */
          noncurrentVersionDays: z.number().int().min(1).max(3650).default(30),
        })
        .strict(),
    ).default({ noncurrentVersionDays: 30 }),
    removalPolicy: z.enum(['retain', 'destroy']).default('retain'),
    schedule: ctx(
      z
        .object({
          enabled: z.boolean().default(true),
          /** EventBridge Scheduler expression: cron(...), rate(...) or at(...). */
          expression: scheduleExpression.default('cron(0 2 * * ? *)'),
          timezone: z.string().min(1).default('UTC'),
        })
        .strict(),
    ).default({ enabled: true, expression: 'cron(0 2 * * ? *)', timezone: 'UTC' }),
    /** New raw objects under experiments/ start the pipeline, one run per quiet window (the schedule stays the backstop). */
    objectArrivals: ctx(
      z
        .object({
          enabled: z.boolean().default(true),
          /** The window: objects arriving within the same quietMinutes start one run, when it ends. */
          quietMinutes: z.number().int().min(1).max(1440).default(10),
        })
        .strict(),
    ).default({ enabled: true, quietMinutes: 10 }),
    alertEmail: z.email('expected an email address').optional(),
    emr: ctx(
      z
        .object({
          releaseLabel: z
            .string()
            .regex(/^emr-[a-z0-9.-]+$/)
            .default('emr-spark-8.0.0'),
          maximumCpu: z
            .string()
            .regex(/^\d+ vCPU$/, "expected e.g. '16 vCPU'")
            .default('16 vCPU'),
          maximumMemory: z
            .string()
            .regex(/^\d+ GB$/, "expected e.g. '64 GB'")
            .default('64 GB'),
          maximumDisk: z
            .string()
            .regex(/^\d+ GB$/, "expected e.g. '200 GB'")
            .default('200 GB'),
          idleTimeoutMinutes: z.number().int().min(1).max(10080).default(15),
        })
        .strict(),
    ).default({
      releaseLabel: 'emr-spark-8.0.0',
      maximumCpu: '16 vCPU',
      maximumMemory: '64 GB',
      maximumDisk: '200 GB',
      idleTimeoutMinutes: 15,
    }),
    /** SPEC section 4 defaults: 1 GB driver, 1536 MB executors, 8 shuffle partitions, Kryo. */
    spark: ctx(
      z
        .object({
          driverCores: z.number().int().positive().default(1),
          driverMemory: memory.default('1g'),
          /**
           * @default 1 on aws (SPEC section 4); 3 on local: one executor on the local worker's three
           * free slots. Three one-core executor JVMs starting at once on a 2-core machine hold a small
           * run's driver back by about 5 s.
           */
          executorCores: z.number().int().positive().optional(),
          executorMemory: memory.default('1536m'),
          shufflePartitions: z.number().int().positive().default(8),
          extraConf: z.record(z.string(), z.string()).default({}),
          /**
           * The Spark job code version the jobs run (aws profile): a rollback pins an earlier one,
           * which must still be in s3://<artifacts>/spark-jobs/<version>/ (versions are listed in
           * processing_metadata.code_version).
           * @default the version `npm run build:spark` built (dist/spark-jobs/build.json), uploaded on deploy
           */
          codeVersion: z
            .string()
            .regex(/^[0-9a-f]{16}$/, 'expected 16 hex digits (a build.json codeVersion)')
            .optional(),
          /** Job code versions kept in s3://<artifacts>/spark-jobs/ at each deploy, the running one included. @default 5 */
          codeVersionsKept: z.number().int().min(1).default(5),
        })
        .strict(),
    ).default({
      driverCores: 1,
      driverMemory: '1g',
      executorMemory: '1536m',
      shufflePartitions: 8,
      extraConf: {},
      codeVersionsKept: 5,
    }),
    catalog: ctx(
      z
        .object({
          name: z
            .string()
            .regex(/^[A-Za-z_][A-Za-z0-9_]*$/)
            .default('quantum_catalog'),
          namespace: z
            .string()
            .regex(/^[a-z_][a-z0-9_]*$/)
            .default('quantum_features'),
        })
        .strict(),
    ).default({ name: 'quantum_catalog', namespace: 'quantum_features' }),
    jobs: ctx(
      z
        .object({
          features: jobPolicy(FEATURES_POLICY).default(FEATURES_POLICY),
          mlFeatures: jobPolicy(ML_FEATURES_POLICY).default(ML_FEATURES_POLICY),
        })
        .strict(),
    ).default({ features: FEATURES_POLICY, mlFeatures: ML_FEATURES_POLICY }),
    pollIntervalSeconds: ctx(z.number().int().min(5).max(3600)).default(60),
    /** LOG_LEVEL of every Lambda: DEBUG, INFO, WARN or ERROR. */
    logLevel: z.enum(LOG_LEVELS).default('INFO'),
    /** How a second trigger waits for the running one (PipelineBusyError retries). */
    runSlot: ctx(
      z
        .object({
          retryIntervalSeconds: z.number().int().positive().default(300),
          backoffRate: z.number().min(1).max(10).default(1.5),
          maxAttempts: z.number().int().min(0).max(50).default(12),
        })
        .strict(),
    ).default({ retryIntervalSeconds: 300, backoffRate: 1.5, maxAttempts: 12 }),
    /** Table maintenance (its own state machine, sharing the run slot): weekly, docs/operations.md. */
    maintenance: MaintenanceConfig,
    mlDefaults: ctx(
      z
        .object({
          rollingWindow: z.number().int().min(1).max(1000).default(5),
          trajectoryHead: z.number().int().min(1).max(1000).default(10),
          trajectoryTail: z.number().int().min(1).max(1000).default(10),
        })
        .strict(),
    ).default({ rollingWindow: 5, trajectoryHead: 10, trajectoryTail: 10 }),
    /** The mirror of the two ML tables on Cloudflare R2 (SPEC section 6). */
    r2: R2Config,
    /** "vqe batch generation" (SPEC section 5): the simulation containers on a GPU host managed by SSM. */
    batch: BatchConfig,
    /** Endpoints of the local profile, as the Lambdas see them. */
    local: ctx(
      z
        .object({
          s3Endpoint: z.url().default('http://127.0.0.1:3900'),
          s3Region: z.string().min(1).default('garage'),
          sparkRestUrl: z.url().default('http://127.0.0.1:6066'),
          sparkMasterUrl: z
            .string()
            .regex(/^spark:\/\/[^\s/]+:\d+$/, 'expected spark://host:port')
            .default('spark://127.0.0.1:7077'),
          sparkArtifactsDir: z.string().min(1).default('/opt/spark-jobs/'),
          sparkPython: z.string().min(1).default('python3'),
        })
        .strict(),
    ).default({
      s3Endpoint: 'http://127.0.0.1:3900',
      s3Region: 'garage',
      sparkRestUrl: 'http://127.0.0.1:6066',
      sparkMasterUrl: 'spark://127.0.0.1:7077',
      sparkArtifactsDir: '/opt/spark-jobs/',
      sparkPython: 'python3',
    }),
  })
  .strict();
export type AppConfig = z.infer<typeof AppConfig>;

/** Context keys the CDK CLI and libraries set themselves (not ours to validate). */
const FOREIGN_CONTEXT = /^(aws:|@aws-cdk\/|cdk-|aws-cdk:|acknowledged-issue-numbers|availability-zones:)/;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/** The validated, frozen configuration, or a ConfigError naming each bad field and value. */
export function loadConfig(context: Record<string, unknown>): Readonly<AppConfig> {
  const ours = Object.fromEntries(Object.entries(context).filter(([key]) => !FOREIGN_CONTEXT.test(key)));
  const result = AppConfig.safeParse(withProfileJobDefaults(ours));
  if (!result.success) {
    // Sections given as JSON text (`-c batch='{...}'`) are described as the objects they parse to.
    const parsed = Object.fromEntries(Object.entries(ours).map(([key, value]) => [key, fromContext(value)]));
    throw new ConfigError(
      `invalid configuration: ${describeIssues(result.error, parsed, (path) =>
        path === '' ? Object.keys(AppConfig.shape) : [],
      )}`,
    );
  }
  const refused = [...r2ConfigProblems(result.data), ...batchConfigProblems(result.data)];
  if (refused.length > 0) throw new ConfigError(`invalid configuration: ${refused.join('; ')}`);
  return deepFreeze(result.data);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
