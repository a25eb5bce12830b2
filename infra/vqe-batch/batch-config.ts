/** The `batch` section of the app configuration (infra/config.ts): "vqe batch generation". */
import { z } from 'zod';
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
} from '../../lambdas/vqe-batch/contract';
import { ctx } from '../common/config-schema';
import type { AppConfig } from '../config';

/** "vqe batch generation" (SPEC section 5): the simulation containers on a GPU host managed by SSM. */
export const BatchConfig = ctx(
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
          z.union([z.object({ secretsManager: z.string() }).strict(), z.object({ ssmParameter: z.string() }).strict()]),
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
});

/** Whether "vqe batch generation" is deployed: always locally, on AWS once a GPU host is named. */
export function batchEnabled(config: Readonly<AppConfig>): boolean {
  return config.batch.enabled ?? (config.profile === 'local' || config.batch.host !== undefined);
}

/** What the schema cannot say about the batch section: rules across fields and profiles. */
export function batchConfigProblems(config: Readonly<AppConfig>): string[] {
  const { batch, profile } = config;
  const problems: string[] = [];
  if (batch.enabled === true && profile === 'aws' && !batch.host)
    problems.push(
      'batch.host: required when batch.enabled is true on the aws profile ({"instanceId": ...} or {"tag": {"key": ..., "value": ...}}), got nothing',
    );
  if (batch.build.enabled && !batch.build.contextDir)
    problems.push(
      'batch.build.contextDir: required when batch.build.enabled is true (the folder on the GPU host that docker build reads), got nothing',
    );
  // Checked here rather than in the schema: the messages mask a secret-looking value instead of echoing it.
  problems.push(
    ...describeProblems('batch.dockerRunOptions', dockerRunOptionProblems(batch.dockerRunOptions)),
    ...describeProblems('batch.extraArgs', argumentProblems(batch.extraArgs)),
    ...containerSecretProblems('batch.containerSecrets', batch.containerSecrets, batch.dockerRunOptions),
    // The records prefix is the stack's own (experiments/experiment.vqe/); only the host folder is configured.
    ...hostUploadProblems({ prefix: 'experiments/', hostDir: batch.delivery.hostDir }).map(
      (problem) => `batch.${problem}`,
    ),
  );
  // Only the SSM launcher's run document reads them; the local runs would start without them.
  if (profile === 'local' && Object.keys(batch.containerSecrets).length > 0)
    problems.push(
      `batch.containerSecrets: read on the GPU host by the SSM launcher only (aws profile), got ${JSON.stringify(Object.keys(batch.containerSecrets))} on the local profile`,
    );
  return problems;
}
