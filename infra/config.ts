/**
 * The one typed configuration of the CDK app, validated with zod. bin/app.ts builds it from the
 * CDK context (cdk.json and `-c key=value`) and passes it down; constructs never read context.
 */
import { z } from 'zod';
import { describeIssues } from '../lambdas/core/contract';
import { DELETE_GUARD_DEFAULTS, ML_TABLES } from '../lambdas/r2-sync/contract';
import {
  argumentProblems,
  containerSecretProblems,
  DEFAULT_FOLDER_FLAG,
  DEFAULT_HOST_RECORDS_DIR,
  DEFAULT_S3_FLAG,
  DELIVERY_MODES,
  describeProblems,
  dockerRunOptionProblems,
  hostUploadProblems,
  imageReferenceProblem,
  LANE_DEVICES_PATTERN,
  OUTPUT_FLAG_PATTERN,
} from '../lambdas/vqe-batch/contract';
import { LOG_LEVELS } from './common/pipeline-function';

/** `-c key=value` arrives as a string: JSON for objects, and the words true/false/numbers. */
function fromContext(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (/^[{[]/.test(text) || text === 'true' || text === 'false' || /^-?\d+(\.\d+)?$/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return value; // left as text; the schema then names the field
    }
  }
  return value;
}
const ctx = <T extends z.ZodType>(schema: T) => z.preprocess(fromContext, schema);

const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name');
const memory = z.string().regex(/^\d+[mg]$/, 'expected a size such as 1536m or 2g');

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
          expression: z
            .string()
            .regex(/^(cron|rate|at)\(.+\)$/, 'expected cron(...), rate(...) or at(...)')
            .default('cron(0 2 * * ? *)'),
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
    maintenance: ctx(
      z
        .object({
          /** The weekly schedule; a disabled one stays deployed. */
          enabled: z.boolean().default(true),
          expression: z
            .string()
            .regex(/^(cron|rate|at)\(.+\)$/, 'expected cron(...), rate(...) or at(...)')
            .default('cron(0 3 ? * SUN *)'),
          /** Tagged snapshots younger than this are kept. */
          retentionDays: z.number().int().min(1).max(3650).default(90),
          /** The last N snapshots of each table are kept, whatever their age. */
          retainLast: z.number().int().min(1).max(1000).default(5),
          /** Compaction's target data file size (1 MiB to 2 GiB). */
          targetFileSizeBytes: z
            .number()
            .int()
            .min(1024 * 1024)
            .max(2 * 1024 * 1024 * 1024)
            .default(128 * 1024 * 1024),
          /** Per attempt; the job is cancelled past it. */
          timeoutSeconds: z.number().int().positive().default(7200),
        })
        .strict(),
    ).default({
      enabled: true,
      expression: 'cron(0 3 ? * SUN *)',
      retentionDays: 90,
      retainLast: 5,
      targetFileSizeBytes: 128 * 1024 * 1024,
      timeoutSeconds: 7200,
    }),
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
    r2: ctx(
      z
        .object({
          /** Deploy the r2-sync state machine. @default true on the local profile or when accountId is set */
          enabled: z.boolean().optional(),
          /** The Cloudflare account id: the endpoint is https://<accountId>.r2.cloudflarestorage.com. */
          accountId: z
            .string()
            .regex(/^[0-9a-f]{32}$/, 'expected the 32 hexadecimal digits of a Cloudflare account id')
            .optional(),
          /** Another S3-compatible endpoint instead of R2's (the local profile's stand-in). @default R2's, or local.s3Endpoint */
          endpoint: z.url().optional(),
          /** @default 'auto' (R2), or local.s3Region with the local stand-in */
          region: z.string().min(1).optional(),
          bucket: bucketName.default('qp-data'),
          prefix: z
            .string()
            .regex(/^([^/].*\/)?$/, 'expected a key prefix ending in / (or empty)')
            .default('features/'),
          /** Secrets Manager secret holding {"accessKeyId": ..., "secretAccessKey": ...} of an R2 API token. */
          credentialsSecretName: z
            .string()
            .regex(/^[A-Za-z0-9/_+=.@-]{1,512}$/, 'expected a Secrets Manager secret name')
            .default('quantum-pipeline/r2-credentials'),
          tables: z
            .array(z.enum(ML_TABLES))
            .min(1)
            .default([...ML_TABLES]),
          transfers: z.number().int().min(1).max(64).default(8),
          checkers: z.number().int().min(1).max(64).default(4),
          partSizeMiB: z.number().int().min(5).max(5120).default(16),
          multipartThresholdMiB: z.number().int().min(5).max(5120).default(128),
          partConcurrency: z.number().int().min(1).max(16).default(4),
          /** A table sync planning to delete more than this share (0 to 1) of its mirror deletes nothing and fails. */
          maxDeleteFraction: z.number().min(0).max(1).default(DELETE_GUARD_DEFAULTS.maxDeleteFraction),
          /** A table sync planning to delete more objects than this deletes nothing and fails. */
          maxDeleteCount: z.number().int().min(0).default(DELETE_GUARD_DEFAULTS.maxDeleteCount),
          /** Start a sync when the feature pipeline publishes "ML Features Updated". */
          onFeaturesUpdated: z.boolean().default(true),
          schedule: z
            .object({
              enabled: z.boolean().default(false),
              expression: z
                .string()
                .regex(/^(cron|rate|at)\(.+\)$/, 'expected cron(...), rate(...) or at(...)')
                .default('cron(0 4 * * ? *)'),
              timezone: z.string().min(1).default('UTC'),
            })
            .strict()
            .default({ enabled: false, expression: 'cron(0 4 * * ? *)', timezone: 'UTC' }),
        })
        .strict(),
    ).default({
      bucket: 'qp-data',
      prefix: 'features/',
      credentialsSecretName: 'quantum-pipeline/r2-credentials',
      tables: [...ML_TABLES],
      transfers: 8,
      checkers: 4,
      partSizeMiB: 16,
      multipartThresholdMiB: 128,
      partConcurrency: 4,
      ...DELETE_GUARD_DEFAULTS,
      onFeaturesUpdated: true,
      schedule: { enabled: false, expression: 'cron(0 4 * * ? *)', timezone: 'UTC' },
    }),
    /** "vqe batch generation" (SPEC section 5): the simulation containers on a GPU host managed by SSM. */
    batch: ctx(
      z
        .object({
          /** Deploy the batch state machines. @default true on the local profile or when host is set */
          enabled: z.boolean().optional(),
          /** The GPU host: an EC2 instance or an on-premises box registered with SSM, by id or by tag. */
          host: z
            .union([
              z
                .object({
                  instanceId: z
                    .string()
                    .regex(/^m?i-[0-9a-f]{8,17}$/, 'expected an instance id i-... or a managed node id mi-...'),
                })
                .strict(),
              z
                .object({
                  tag: z.object({ key: z.string().min(1).max(128), value: z.string().min(1).max(256) }).strict(),
                })
                .strict(),
            ])
            .optional(),
          /** `[registry[:port]/]repository[:tag][@sha256:digest]`; the run document accepts this repository only. */
          image: z
            .string()
            .refine((image) => imageReferenceProblem(image) === undefined, {
              message: 'expected an image reference [registry[:port]/]repository[:tag][@sha256:digest] (no leading -)',
            })
            .default('quantum-pipeline-simulation:latest-gpu'),
          /** Each GPU lane's `docker run --gpus` device spec: `all` or `device=N[,M]`; the cpu lane gets no GPU. */
          laneDevices: z
            .object({
              gpu1: z.string().regex(LANE_DEVICES_PATTERN, 'expected all or device=N[,M]').default('device=0'),
              gpu2: z.string().regex(LANE_DEVICES_PATTERN, 'expected all or device=N[,M]').default('device=1'),
            })
            .strict()
            .default({ gpu1: 'device=0', gpu2: 'device=1' }),
          /**
           * More `docker run` options from an allowlist (loadConfig checks them): --shm-size, --ipc,
           * --ulimit, --network, -e NAME[=value] (no secret-looking NAME inline), --env-file, -v (not
           * the host's root or system folders), --user, --workdir, --memory, --cpus, ...
           */
          dockerRunOptions: z.array(z.string()).default([]),
          /**
           * Container environment variables read on the GPU host right before `docker run`, by
           * name: {"DB_PASSWORD": {"secretsManager": "<name or complete ARN>"}} or
           * {"API_TOKEN": {"ssmParameter": "<SecureString name>"}}. loadConfig checks the names;
           * only they reach the template (docs/configuration.md).
           */
          containerSecrets: z
            .record(
              z.string(),
              z.union([
                z.object({ secretsManager: z.string() }).strict(),
                z.object({ ssmParameter: z.string() }).strict(),
              ]),
            )
            .default({}),
          /** The GPU host's IAM role; the stack grants it read of containerSecrets. @default none: the HostSecretsPolicy output says what it needs */
          hostRoleArn: z
            .string()
            .regex(/^arn:aws[a-z-]*:iam::[0-9]{12}:role\/[A-Za-z0-9+=,.@_/-]{1,512}$/, 'expected an IAM role ARN')
            .optional(),
          /** The molecules file of each lane inside the image. */
          moleculesFiles: z
            .object({ gpu1: z.string().min(1), gpu2: z.string().min(1), cpu: z.string().min(1) })
            .strict()
            .default({
              gpu1: 'data/molecules.gpu1.json',
              gpu2: 'data/molecules.gpu2.json',
              cpu: 'data/molecules.cpu.json',
            }),
          /** Arguments after SPEC section 5's, e.g. ["--kafka"]. */
          extraArgs: z.array(z.string()).default([]),
          /**
           * How a run's records reach s3://<raw-results>/experiments/experiment.vqe/ (each launch
           * below `<container name>/attempt-<n>/`, counted by check-run). docs/configuration.md.
           */
          delivery: z
            .object({
              /**
               * host-upload: the image writes into a host folder mounted for the run (folderFlag),
               * which the run document uploads with the host's role; direct: the image writes to
               * S3 itself (s3Flag). @default 'host-upload'
               */
              mode: z.enum(DELIVERY_MODES).default('host-upload'),
              /** The image's flag taking its output folder. @default '--output-dir' */
              folderFlag: z.string().regex(OUTPUT_FLAG_PATTERN, 'expected a --flag').default(DEFAULT_FOLDER_FLAG),
              /** The image's flag taking an s3:// output prefix. @default '--output' */
              s3Flag: z.string().regex(OUTPUT_FLAG_PATTERN, 'expected a --flag').default(DEFAULT_S3_FLAG),
              /** The GPU host's folder the run folders are made in. @default '/var/lib/quantum-pipeline/records' */
              hostDir: z.string().default(DEFAULT_HOST_RECORDS_DIR),
            })
            .strict()
            .default({
              mode: 'host-upload',
              folderFlag: DEFAULT_FOLDER_FLAG,
              s3Flag: DEFAULT_S3_FLAG,
              hostDir: DEFAULT_HOST_RECORDS_DIR,
            }),
          /** `docker build --build-arg CUDA_ARCH=<cudaArch>` on the host before each batch. */
          build: z
            .object({
              enabled: z.boolean().default(false),
              /** The checkout of the simulation image's sources on the GPU host; required with enabled. */
              contextDir: z.string().min(1).optional(),
              cudaArch: z
                .string()
                .regex(/^\d+\.\d+$/, 'expected a CUDA compute capability such as 6.1')
                .default('6.1'),
              dockerfile: z.string().min(1).optional(),
            })
            .strict()
            .default({ enabled: false, cudaArch: '6.1' }),
          runTimeoutMinutes: z.number().int().min(1).max(1440).default(120),
          pollIntervalSeconds: z.number().int().min(5).max(3600).default(60),
          /** Runs per child execution. @default the most that fit the history limit */
          chunkSize: z.number().int().min(1).max(100).optional(),
          /** Start the feature pipeline when a batch that produced records finishes. */
          startFeaturePipeline: z.boolean().default(true),
        })
        .strict(),
    ).default({
      image: 'quantum-pipeline-simulation:latest-gpu',
      laneDevices: { gpu1: 'device=0', gpu2: 'device=1' },
      dockerRunOptions: [],
      containerSecrets: {},
      moleculesFiles: {
        gpu1: 'data/molecules.gpu1.json',
        gpu2: 'data/molecules.gpu2.json',
        cpu: 'data/molecules.cpu.json',
      },
      extraArgs: [],
      delivery: {
        mode: 'host-upload',
        folderFlag: DEFAULT_FOLDER_FLAG,
        s3Flag: DEFAULT_S3_FLAG,
        hostDir: DEFAULT_HOST_RECORDS_DIR,
      },
      build: { enabled: false, cudaArch: '6.1' },
      runTimeoutMinutes: 120,
      pollIntervalSeconds: 60,
      startFeaturePipeline: true,
    }),
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
  const { r2, profile } = result.data;
  if (r2.enabled === true && profile === 'aws' && !r2.accountId && !r2.endpoint) {
    throw new ConfigError(
      'invalid configuration: r2.accountId: required when r2.enabled is true on the aws profile (or set r2.endpoint), got nothing',
    );
  }
  const { batch } = result.data;
  if (batch.enabled === true && profile === 'aws' && !batch.host) {
    throw new ConfigError(
      'invalid configuration: batch.host: required when batch.enabled is true on the aws profile ({"instanceId": ...} or {"tag": {"key": ..., "value": ...}}), got nothing',
    );
  }
  if (batch.build.enabled && !batch.build.contextDir) {
    throw new ConfigError(
      'invalid configuration: batch.build.contextDir: required when batch.build.enabled is true (the folder on the GPU host that docker build reads), got nothing',
    );
  }
  // Checked here rather than in the schema: the messages mask a secret-looking value instead of echoing it.
  const refused = [
    ...describeProblems('batch.dockerRunOptions', dockerRunOptionProblems(batch.dockerRunOptions)),
    ...describeProblems('batch.extraArgs', argumentProblems(batch.extraArgs)),
    ...containerSecretProblems('batch.containerSecrets', batch.containerSecrets, batch.dockerRunOptions),
    // The records prefix is the stack's own (experiments/experiment.vqe/); only the host folder is configured.
    ...hostUploadProblems({ prefix: 'experiments/', hostDir: batch.delivery.hostDir }).map(
      (problem) => `batch.${problem}`,
    ),
  ];
  // Only the SSM launcher's run document reads them; the local runs would start without them.
  if (profile === 'local' && Object.keys(batch.containerSecrets).length > 0) {
    refused.push(
      `batch.containerSecrets: read on the GPU host by the SSM launcher only (aws profile), got ${JSON.stringify(Object.keys(batch.containerSecrets))} on the local profile`,
    );
  }
  if (refused.length > 0) throw new ConfigError(`invalid configuration: ${refused.join('; ')}`);
  return deepFreeze(result.data);
}

/** Whether "vqe batch generation" is deployed: always locally, on AWS once a GPU host is named. */
export function batchEnabled(config: Readonly<AppConfig>): boolean {
  return config.batch.enabled ?? (config.profile === 'local' || config.batch.host !== undefined);
}

/** Where the r2-sync state machine mirrors to, or undefined when it is not deployed. */
export interface R2Target {
  readonly endpoint: string;
  readonly region: string;
}

export function r2Target(config: Readonly<AppConfig>): R2Target | undefined {
  const { r2 } = config;
  const local = config.profile === 'local';
  if (!(r2.enabled ?? (local || r2.accountId !== undefined || r2.endpoint !== undefined))) return undefined;
  if (r2.endpoint) return { endpoint: r2.endpoint, region: r2.region ?? (local ? config.local.s3Region : 'auto') };
  if (r2.accountId)
    return { endpoint: `https://${r2.accountId}.r2.cloudflarestorage.com`, region: r2.region ?? 'auto' };
  // The local profile's stand-in: a bucket of the local S3 store.
  return { endpoint: config.local.s3Endpoint, region: r2.region ?? config.local.s3Region };
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
