/**
 * The Lambdas' deployed settings, read from the environment and checked once, at module load of
 * a handler. A missing or malformed variable stops the function with an error naming it.
 */
import { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { S3Client } from '@aws-sdk/client-s3';
import type { z } from 'zod';
import { BackendKind, ENV, PipelineSettings } from './contract';
import { ConfigurationError } from '../core/errors';
import { describeIssues } from '../core/validation';
import { EmrServerlessBackend } from './backends/emr-serverless';
import { StandaloneBackend } from './backends/standalone';
import type { SparkBackend } from './backends/types';

export type Environment = Readonly<Record<string, string | undefined>>;

export function requireEnv(env: Environment, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigurationError(`environment variable ${name} is not set`);
  }
  return value;
}

/** A variable holding JSON that must match `schema`; a ConfigurationError names the variable and the field. */
export function readJsonEnv<T extends z.ZodType>(env: Environment, name: string, schema: T): z.infer<T> {
  const text = requireEnv(env, name);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ConfigurationError(`environment variable ${name} is not JSON`, { cause });
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw new ConfigurationError(`environment variable ${name}: ${describeIssues(result.error, parsed)}`);
  }
  return result.data;
}

export function readSettings(env: Environment): PipelineSettings {
  return readJsonEnv(env, ENV.settings, PipelineSettings);
}

export function backendFromEnv(env: Environment): SparkBackend {
  const kind = BackendKind.safeParse(env[ENV.backend]);
  if (!kind.success) {
    throw new ConfigurationError(
      `environment variable ${ENV.backend}=${JSON.stringify(env[ENV.backend] ?? null)}: expected emr-serverless or standalone`);
  }
  const artifactsUri = requireEnv(env, ENV.artifactsUri);
  if (kind.data === 'emr-serverless') {
    return new EmrServerlessBackend({
      client: new EMRServerlessClient({}),
      applicationId: requireEnv(env, ENV.emrApplicationId),
      executionRoleArn: requireEnv(env, ENV.emrExecutionRoleArn),
      artifactsUri,
      logUri: env[ENV.emrLogUri] || undefined,
    });
  }
  return new StandaloneBackend({
    restUrl: requireEnv(env, ENV.sparkRestUrl),
    masterUrl: requireEnv(env, ENV.sparkMasterUrl),
    artifactsDir: artifactsUri,
    python: requireEnv(env, ENV.sparkPython),
    workDir: env[ENV.sparkWorkDir] || undefined,
  });
}

/** S3 client that also works against Garage and LocalStack (custom endpoint, path style). */
export function s3ClientFromEnv(env: Environment): S3Client {
  const endpoint = env[ENV.s3Endpoint] || undefined;
  const region = env.AWS_REGION || undefined;
  return new S3Client({
    ...(endpoint ? { endpoint } : {}),
    ...(region ? { region } : {}),
    forcePathStyle: env[ENV.s3ForcePathStyle] === 'true',
    // Checksums only where an API requires them: S3-compatible stores reject some defaults.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}
