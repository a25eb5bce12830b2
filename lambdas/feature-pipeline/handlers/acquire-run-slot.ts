/** Lambda entry of the run-slot step (core: ../steps/acquire-run-slot.ts). */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Handler } from 'aws-lambda';
import type { RunSlot } from '../contract';
import { createAcquireRunSlot, stepFunctionsExecutions } from '../steps/acquire-run-slot';

export const handler: Handler<unknown, RunSlot> = createAcquireRunSlot(stepFunctionsExecutions(new SFNClient({})));
