/**
 * The chunk state machine's states, and the Lambda task every batch step is invoked with (its
 * retries: none for bad input, patient ones while the GPU host is unreachable, a couple for the rest).
 */
import { Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';
import { ERROR_NAMES } from '../../lambdas/core/contract';

/** A batch step's Lambda task: its result under `resultPath`.result. */
export function batchTask(
  scope: Construct,
  id: string,
  fn: lambda.IFunction,
  payload: sfn.TaskInput,
  resultPath: string,
): tasks.LambdaInvoke {
  const task = new tasks.LambdaInvoke(scope, id, {
    lambdaFunction: fn,
    payload,
    resultSelector: { 'result.$': '$.Payload' },
    resultPath,
    retryOnServiceExceptions: true,
  });
  task.addRetry({ errors: [ERROR_NAMES.invalidInput], maxAttempts: 0 });
  task.addRetry({
    errors: [ERROR_NAMES.launcherUnavailable],
    interval: Duration.seconds(30),
    backoffRate: 2,
    maxAttempts: 5,
  });
  // Anything else (an S3 hiccup, a throttled API): a couple of quick retries.
  task.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(10), backoffRate: 2, maxAttempts: 2 });
  return task;
}

/**
 * The chunk machine: launch the run at the cursor, poll it to its end, move the cursor, until the
 * chunk's end. Its states are made in `chunk`.
 */
export function batchChunkDefinition(
  chunk: Construct,
  functions: Readonly<Record<'start-run' | 'check-run', lambda.IFunction>>,
  pollSeconds: number,
): sfn.IChainable {
  const cursor = {
    'batch.$': '$.batch',
    'lane.$': '$.lane',
    'start.$': '$.start',
    'cursor.$': '$.cursor',
    'end.$': '$.end',
  };
  const start = batchTask(chunk, 'StartRun', functions['start-run'], sfn.TaskInput.fromObject(cursor), '$.turn');
  const check = batchTask(
    chunk,
    'CheckRun',
    functions['check-run'],
    sfn.TaskInput.fromObject({ ...cursor, 'run.$': '$.turn.result' }),
    '$.check',
  );
  const next = new sfn.Pass(chunk, 'NextRun', {
    parameters: { ...cursor, 'cursor.$': 'States.MathAdd($.cursor, 1)' },
  });
  // A step that keeps failing gives up on its run, never on the lane: the run stays in_progress
  // (pending for the next batch) and the error is in the function's log.
  const skip = new sfn.Pass(chunk, 'SkipRun', {
    parameters: { ...cursor, 'cursor.$': 'States.MathAdd($.cursor, 1)' },
  });
  start.addCatch(skip, { resultPath: '$.error' });
  check.addCatch(skip, { resultPath: '$.error' });
  // Past the end, StartRun only reports the tally; if even that keeps failing, the chunk fails
  // (its runs stay pending for the next batch) instead of skipping forever.
  skip.next(
    new sfn.Choice(chunk, 'CanGoOn')
      .when(sfn.Condition.numberLessThanEqualsJsonPath('$.cursor', '$.end'), start)
      .otherwise(
        new sfn.Fail(chunk, 'ChunkStepsFailed', {
          error: 'ChunkStepsFailedError',
          cause: "the steps of this chunk kept failing; see the functions' logs",
        }),
      ),
  );
  next.next(start);
  const wait = new sfn.Wait(chunk, 'WaitForRun', { time: sfn.WaitTime.duration(Duration.seconds(pollSeconds)) });
  const done = new sfn.Succeed(chunk, 'ChunkDone', { outputPath: '$.turn.result.chunk' });
  wait
    .next(check)
    .next(
      new sfn.Choice(chunk, 'HasRunEnded')
        .when(sfn.Condition.booleanEquals('$.check.result.ended', true), next)
        .otherwise(wait),
    );
  return start.next(
    new sfn.Choice(chunk, 'IsChunkFinished')
      .when(sfn.Condition.booleanEquals('$.turn.result.finished', true), done)
      .when(sfn.Condition.booleanEquals('$.turn.result.ended', true), next)
      .otherwise(wait),
  );
}
