/** Lambda entry of the run-slot step (core: ../steps/acquire-run-slot.ts). */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { RunSlot } from '../contract';
import { createAcquireRunSlot, stepFunctionsExecutions } from '../steps/acquire-run-slot';

const log = new Logger('acquire-run-slot');

export const handler: Handler<unknown, RunSlot> = withLambdaContext(
  log,
  createAcquireRunSlot(stepFunctionsExecutions(new SFNClient({})), log),
);
