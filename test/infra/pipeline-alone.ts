/**
 * The feature pipeline construct alone in a bare stack, on imported functions, with the job
 * policies `loadConfig(context)` gives: its definition and template without the rest of the app.
 */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { loadConfig } from '../../infra/config';
import { FeaturePipeline, type FeaturePipelineProps } from '../../infra/feature-pipeline/feature-pipeline';
import { HANDLER_NAMES } from '../../infra/feature-pipeline/spark-job-functions';
import { type AslDefinition, type CfnTemplate, resolveDefinition } from '../../localstack/embedded/definition';

export interface PipelineAlone {
  readonly stack: Stack;
  readonly pipeline: FeaturePipeline;
  /** Call after adding to the stack; the template is read when asked. */
  readonly template: () => Template;
  readonly definition: () => AslDefinition;
}

export function pipelineAlone(context: Record<string, unknown> = {}): PipelineAlone {
  const stack = new Stack(new App(), 'Alone', { env: { account: '123456789012', region: 'eu-west-1' } });
  const functions = Object.fromEntries(
    HANDLER_NAMES.map((name) => [
      name,
      lambda.Function.fromFunctionArn(stack, name, `arn:aws:lambda:eu-west-1:123456789012:function:${name}`),
    ]),
  ) as FeaturePipelineProps['functions'];
  const config = loadConfig(context);
  const pipeline = new FeaturePipeline(stack, 'Pipeline', {
    stateMachineName: 'qp-feature-pipeline',
    functions,
    featuresJob: config.jobs.features,
    mlFeaturesJob: config.jobs.mlFeatures,
    pollIntervalSeconds: config.pollIntervalSeconds,
  });
  const template = () => Template.fromStack(stack);
  const definition = () =>
    resolveDefinition(
      template().toJSON() as CfnTemplate,
      stack.getLogicalId(pipeline.stateMachine.node.defaultChild as never),
    );
  return { stack, pipeline, template, definition };
}
