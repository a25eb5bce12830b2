/** Lambda entry of a chunk loop's launch turn (core: ../steps/batch-start-run.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import type { StartRunResult } from '../contract';
import { readBatchSettings, ssmLauncherFor, stateStoreFor } from '../settings';
import { createStartRun } from '../steps/start-run';

const settings = readBatchSettings(process.env);
const startRun = createStartRun({ settings, store: stateStoreFor(settings), launcher: ssmLauncherFor(settings) });

export const handler: Handler<unknown, StartRunResult> = (event) => startRun(event);
