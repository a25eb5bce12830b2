/** Lambda entry of a chunk loop's launch turn (core: ../steps/start-run.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { StartRunResult } from '../contract';
import { readBatchSettings, ssmLauncherFor, stateStoreFor } from '../settings';
import { createStartRun } from '../steps/start-run';

const settings = readBatchSettings(process.env);
const log = new Logger('vqe-batch-start-run');
const startRun = createStartRun({ settings, store: stateStoreFor(settings), launcher: ssmLauncherFor(settings), log });

export const handler: Handler<unknown, StartRunResult> = withLambdaContext(log, (event: unknown) => startRun(event));
