/** Lambda entry of a chunk loop's poll turn (core: ../steps/batch-check-run.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { readBatchSettings, ssmLauncherFor, stateStoreFor } from '../settings';
import { type CheckRunResult, createCheckRun } from '../steps/check-run';

const settings = readBatchSettings(process.env);
const checkRun = createCheckRun({ store: stateStoreFor(settings), launcher: ssmLauncherFor(settings) });

export const handler: Handler<unknown, CheckRunResult> = (event) => checkRun(event);
