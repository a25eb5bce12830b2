/** Lambda entry of the batch planner (core: ../steps/batch-plan.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import type { PlanOutput } from '../contract';
import { readBatchSettings, stateStoreFor } from '../settings';
import { createPlanBatch } from '../steps/plan';

const settings = readBatchSettings(process.env);
const plan = createPlanBatch({ settings, store: stateStoreFor(settings) });

export const handler: Handler<unknown, PlanOutput> = (event) => plan(event);
