/**
 * The batch machine's report states: the page of the batch at its end and on its failure path
 * (lambdas/report/handlers/write-batch-report.ts). A page is an extra: neither state can fail
 * the batch, a Catch goes on to the same next state.
 */
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { writePageStep } from '../report/report-step';

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
  const payload = {
    'batchId.$': '$.plan.batch.batchId',
    ...(id === 'WriteBatchFailureReport' ? { 'failure.$': '$.failure' } : {}),
  };
  return writePageStep(scope, id, reportFunction, payload, next);
}
