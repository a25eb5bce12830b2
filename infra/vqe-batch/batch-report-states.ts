/**
 * The batch machine's report states: the page of the batch at its end and on its failure path
 * (lambdas/report/handlers/write-batch-report.ts). A page is an extra: neither state can fail
 * the batch, a Catch goes on to the same next state.
 */
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

/**
 * Where every Catch of the batch machine goes: BatchFailed, after the failure page when there is
 * a batch to report on. A Catch of PlanBatch has no $.plan, and a payload path to it would fail
 * the execution with States.Runtime, which no Catch handles.
 */
export function batchFailurePath(scope: Construct, reportFunction: lambda.IFunction | undefined): sfn.IChainable {
  const failed = new sfn.Fail(scope, 'BatchFailed', { errorPath: '$.failure.Error', causePath: '$.failure.Cause' });
  if (!reportFunction) return failed;
  return new sfn.Choice(scope, 'IsBatchPlanned')
    .when(
      sfn.Condition.isPresent('$.plan.batch.batchId'),
      writeBatchReport(scope, 'WriteBatchFailureReport', reportFunction, failed),
    )
    .otherwise(failed);
}

/** The page of the batch into $.report, then `next` whatever happens. */
export function writeBatchReport(
  scope: Construct,
  id: 'WriteBatchReport' | 'WriteBatchFailureReport',
  reportFunction: lambda.IFunction,
  next: sfn.IChainable,
): sfn.IChainable {
  const task = new tasks.LambdaInvoke(scope, id, {
    lambdaFunction: reportFunction,
    payload: sfn.TaskInput.fromObject({
      'batchId.$': '$.plan.batch.batchId',
      ...(id === 'WriteBatchFailureReport' ? { 'failure.$': '$.failure' } : {}),
    }),
    payloadResponseOnly: true,
    retryOnServiceExceptions: true,
    resultPath: '$.report',
  });
  task.addCatch(next, { resultPath: '$.report' });
  return task.next(next);
}
