/** Lambda entry of a chunk loop's poll turn (core: ../steps/check-run.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import { readBatchSettings, recordCounterFor, ssmLauncherFor, stateS3Client, stateStoreFor } from '../settings';
import { type CheckRunResult, createCheckRun } from '../steps/check-run';

const settings = readBatchSettings(process.env);
const log = new Logger('vqe-batch-check-run');
const s3 = stateS3Client(settings);
const checkRun = createCheckRun({
  store: stateStoreFor(settings, s3),
  launcher: ssmLauncherFor(settings),
  records: recordCounterFor(settings, s3),
  log,
});

export const handler: Handler<unknown, CheckRunResult> = withLambdaContext(log, (event: unknown) => checkRun(event));
