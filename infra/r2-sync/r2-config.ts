/** The `r2` section of the app configuration (infra/config.ts): the mirror of the ML tables. */
import { z } from 'zod';
import { DELETE_GUARD_DEFAULTS, ML_TABLES } from '../../lambdas/r2-sync/contract';
import { bucketName, ctx, scheduleExpression } from '../common/config-schema';
import type { AppConfig } from '../config';

/** The mirror of the two ML tables on Cloudflare R2 (SPEC section 6). */
export const R2Config = ctx(
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
          expression: scheduleExpression.default('cron(0 4 * * ? *)'),
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
});

/** What the schema cannot say about the r2 section: rules that depend on the profile. */
export function r2ConfigProblems(config: Readonly<AppConfig>): string[] {
  const { r2, profile } = config;
  if (r2.enabled === true && profile === 'aws' && !r2.accountId && !r2.endpoint)
    return ['r2.accountId: required when r2.enabled is true on the aws profile (or set r2.endpoint), got nothing'];
  return [];
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
