/** Lambda entry of the batch summary (core: ../steps/summary.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import { readBatchSettings, stateStoreFor } from '../settings';
import { type BatchSummary, createBatchSummary } from '../steps/summary';

const settings = readBatchSettings(process.env);
const log = new Logger('vqe-batch-summary');
const summarize = createBatchSummary({ store: stateStoreFor(settings), log });

export const handler: Handler<unknown, BatchSummary> = withLambdaContext(log, (event: unknown) => summarize(event));
