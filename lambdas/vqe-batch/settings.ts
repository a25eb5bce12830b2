/**
 * The batch Lambdas' settings (BATCH_SETTINGS, checked at module load), their state store and, on
 * AWS, the SSM launcher. The local launchers are bound by the local runner, never from here.
 */
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { type Environment, readJsonEnv } from '../core/env';
import { ConfigurationError } from '../core/errors';
import { BATCH_ENV, BatchSettings } from './contract';
import { SsmLauncher } from './launchers/ssm';
import { S3RecordCounter } from './record-count';
import { RunStateStore } from './state-store';

export function readBatchSettings(env: Environment): BatchSettings {
  return readJsonEnv(env, BATCH_ENV.settings, BatchSettings);
}

export function stateStoreFor(settings: BatchSettings, s3?: S3Client): RunStateStore {
  return new RunStateStore(s3 ?? stateS3Client(settings), settings.stateBucket, settings.statePrefix);
}

/** Counts a run's records in raw-results (the state bucket's endpoint: both are the raw bucket). */
export function recordCounterFor(settings: BatchSettings, s3?: S3Client): S3RecordCounter {
  return new S3RecordCounter(s3 ?? stateS3Client(settings));
}

/** An S3 client of the state bucket's endpoint (path style on an S3-compatible one). */
export function stateS3Client(settings: BatchSettings): S3Client {
  return new S3Client({
    ...(settings.s3Endpoint ? { endpoint: settings.s3Endpoint, forcePathStyle: true } : {}),
    ...(settings.s3Region ? { region: settings.s3Region } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export function ssmLauncherFor(settings: BatchSettings, client: SSMClient = new SSMClient({})): SsmLauncher {
  const spec = settings.launcher;
  if (spec.kind !== 'ssm') {
    throw new ConfigurationError(
      `environment variable ${BATCH_ENV.settings}: launcher.kind "${spec.kind}" runs only in the local runner`,
    );
  }
  return new SsmLauncher(client, {
    target: spec.target,
    image: spec.image,
    documents: spec.documents,
    laneDevices: spec.laneDevices,
    commandTimeoutSeconds: spec.commandTimeoutSeconds,
    recordsPrefix: settings.delivery.prefix,
  });
}
