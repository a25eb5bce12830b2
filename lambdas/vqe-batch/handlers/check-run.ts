/** Lambda entry of a chunk loop's poll turn (core: ../steps/check-run.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import { readBatchSettings, ssmLauncherFor, stateStoreFor } from '../settings';
import { type CheckRunResult, createCheckRun } from '../steps/check-run';

const settings = readBatchSettings(process.env);
const log = new Logger('vqe-batch-check-run');
const checkRun = createCheckRun({ store: stateStoreFor(settings), launcher: ssmLauncherFor(settings), log });

export const handler: Handler<unknown, CheckRunResult> = withLambdaContext(log, (event: unknown) => checkRun(event));
