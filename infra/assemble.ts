/**
 * Assembles the stack and its compliance checks; shared by bin/app.ts, the tests and the local
 * runner. The cdk-nag findings are acknowledged by the constructs that make them (common/nag.ts).
 */
import { type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { AppConfig } from './config';
import { readJobCode } from './feature-pipeline/job-code';
import { QuantumPipelineStack } from './stack';

export interface BuildOptions {
  /** Run cdk-nag on synth. @default true */
  readonly nag?: boolean;
}

export function buildApp(
  app: App,
  config: Readonly<AppConfig>,
  sparkArtifactsDir: string | undefined,
  options: BuildOptions = {},
): QuantumPipelineStack {
  const stack = new QuantumPipelineStack(app, config.stackName, {
    config,
    sparkJobCode:
      config.profile === 'aws' && sparkArtifactsDir !== undefined
        ? readJobCode(sparkArtifactsDir, config.spark.codeVersion)
        : undefined,
    description: `Quantum feature pipeline (${config.profile} profile)`,
  });
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return stack;
}
