/**
 * The run slot state every state machine that writes the tables opens with (the feature pipeline,
 * table maintenance): lambdas/feature-pipeline/steps/acquire-run-slot.ts lets the oldest running
 * execution of them all through, and a younger one waits by retrying PipelineBusyError.
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { ERROR_NAMES } from '../../lambdas/core/contract';

/** How a second execution waits for the slot. */
export interface RunSlotRetry {
  readonly intervalSeconds: number;
  readonly backoffRate: number;
  readonly maxAttempts: number;
}

/** 300 s, x1.5, 12 attempts: about 14 hours of waiting in all, longer than a run's worst case. */
export const DEFAULT_RUN_SLOT_RETRY: RunSlotRetry = { intervalSeconds: 300, backoffRate: 1.5, maxAttempts: 12 };

export interface RunSlotStepOptions {
  /** The acquire-run-slot function. */
  readonly fn: lambda.IFunction;
  /** Where a failure to take the slot goes (the state machine's one failure path). */
  readonly failure: sfn.IChainable;
  /** @default DEFAULT_RUN_SLOT_RETRY */
  readonly retry?: RunSlotRetry;
  /** ARNs of the other state machines that share the slot. @default none */
  readonly sharedWith?: readonly string[];
}

/** The `AcquireRunSlot` state (result at $.slot), its retries and its catch. */
export function acquireRunSlotStep(scope: Construct, options: RunSlotStepOptions): sfn.TaskStateBase {
  const retry = options.retry ?? DEFAULT_RUN_SLOT_RETRY;
  return new tasks.LambdaInvoke(scope, 'AcquireRunSlot', {
    lambdaFunction: options.fn,
    payload: sfn.TaskInput.fromObject({
      'stateMachineArn.$': '$$.StateMachine.Id',
      'executionArn.$': '$$.Execution.Id',
      'startTime.$': '$$.Execution.StartTime',
      ...(options.sharedWith?.length ? { sharedWith: [...options.sharedWith] } : {}),
    }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: true,
    resultPath: '$.slot',
  })
    .addRetry({
      errors: [ERROR_NAMES.pipelineBusy],
      interval: Duration.seconds(retry.intervalSeconds),
      backoffRate: retry.backoffRate,
      maxAttempts: retry.maxAttempts,
    })
    .addRetry({
      errors: [ERROR_NAMES.backendUnavailable],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 3,
    })
    .addCatch(options.failure, { resultPath: '$.failure' });
}
