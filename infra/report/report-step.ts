/**
 * The state that writes a page, shared by the feature pipeline and the VQE batch: the report
 * function's answer goes to $.report, then `next` whatever happened. A page is an extra: a step
 * that could not write it answers written: false, and any other error is caught into $.report,
 * so no execution fails because of its page.
 */
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import type { Construct } from 'constructs';

export function writePageStep(
  scope: Construct,
  id: string,
  reportFunction: lambda.IFunction,
  payload: Record<string, string>,
  next: sfn.IChainable,
): sfn.IChainable {
  const task = new tasks.LambdaInvoke(scope, id, {
    lambdaFunction: reportFunction,
    payload: sfn.TaskInput.fromObject(payload),
    payloadResponseOnly: true,
    retryOnServiceExceptions: true,
    resultPath: '$.report',
  });
  task.addCatch(next, { resultPath: '$.report' });
  return task.next(next);
}
