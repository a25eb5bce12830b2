/** Lambda entry of the batch summary (core: ../steps/batch-summary.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { readBatchSettings, stateStoreFor } from '../settings';
import { type BatchSummary, createBatchSummary } from '../steps/summary';

const settings = readBatchSettings(process.env);
const summarize = createBatchSummary({ store: stateStoreFor(settings) });

export const handler: Handler<unknown, BatchSummary> = (event) => summarize(event);
