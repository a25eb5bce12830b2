/**
 * The feature pipeline Lambdas' deployed settings, read from the environment and checked once, at
 * module load of a handler, and the Spark backend and S3 client they describe.
 */
import { EMRServerlessClient } from '@aws-sdk/client-emr-serverless';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { S3Client } from '@aws-sdk/client-s3';
import { type Environment, readJsonEnv, requireEnv } from '../core/env';
import { ConfigurationError } from '../core/errors';
import type { Logger } from '../core/logger';
import { EmrServerlessBackend } from './backends/emr-serverless';
import { StandaloneBackend } from './backends/standalone';
import type { SparkBackend } from './backends/types';
import { BackendKind, ENV, PipelineSettings } from './contract';
import { createFindingsPublisher, type FindingsPublisher } from './quality-findings';

export function readSettings(env: Environment): PipelineSettings {
  return readJsonEnv(env, ENV.settings, PipelineSettings);
}

export function backendFromEnv(env: Environment): SparkBackend {
  const kind = BackendKind.safeParse(env[ENV.backend]);
  if (!kind.success) {
    throw new ConfigurationError(
      `environment variable ${ENV.backend}=${JSON.stringify(env[ENV.backend] ?? null)}: expected emr-serverless or standalone`,
    );
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

/**
 * The publisher of data-quality findings on the stack's bus (EVENT_BUS_NAME: a bus name or ARN);
 * undefined when the variable is absent (a SparkJobFunctions without eventBus): findings are then only logged.
 */
export function findingsPublisherFromEnv(env: Environment, log?: Logger): FindingsPublisher | undefined {
  if (env[ENV.eventBusName] === undefined) return undefined;
  const busName = requireEnv(env, ENV.eventBusName);
  if (!/^([.\-_A-Za-z0-9]{1,256}|arn:[^:\s]+:events:[^:\s]*:\d{12}:event-bus\/[.\-_A-Za-z0-9]{1,256})$/.test(busName)) {
    throw new ConfigurationError(
      `environment variable ${ENV.eventBusName}=${JSON.stringify(busName)}: expected an event bus name or ARN`,
    );
  }
  const region = env.AWS_REGION || undefined;
  return createFindingsPublisher({ client: new EventBridgeClient(region ? { region } : {}), busName, log });
}
