/** Lambda entry of the batch planner (core: ../steps/plan.ts); settings checked at load. */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import { stepFunctionsExecutions } from '../../feature-pipeline/steps/acquire-run-slot';
import type { PlanOutput } from '../contract';
import { readBatchSettings, stateStoreFor } from '../settings';
import { createPlanBatch } from '../steps/plan';

const settings = readBatchSettings(process.env);
const log = new Logger('vqe-batch-plan');
const plan = createPlanBatch({
  settings,
  store: stateStoreFor(settings),
  executions: stepFunctionsExecutions(new SFNClient({})),
  log,
});

export const handler: Handler<unknown, PlanOutput> = withLambdaContext(log, (event: unknown) => plan(event));
