/** Builds a fresh app and stack per test from a config object (as bin/app.ts does from context). */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from '../../infra/assemble';
import { loadConfig } from '../../infra/config';
import type { QuantumPipelineStack } from '../../infra/stack';
import {
  type AslDefinition,
  type CfnTemplate,
  resolveDefinition,
  resolveValue,
} from '../../localstack/embedded/definition';

/** A stand-in for dist/spark-jobs with the three files the upload expects. */
/** The code version the fake build names in its build.json. */
export const FAKE_CODE_VERSION = '0123456789abcdef';

export function fakeSparkArtifacts(): string {
  const dir = mkdtempSync(join(tmpdir(), 'spark-jobs-'));
  mkdirSync(dir, { recursive: true });
  for (const file of [
    'feature_processing.py',
    'ml_feature_processing.py',
    'table_maintenance.py',
    'quantum_pipeline.zip',
  ])
    writeFileSync(join(dir, file), '# test\n');
  writeFileSync(join(dir, 'build.json'), JSON.stringify({ codeVersion: FAKE_CODE_VERSION }));
  return dir;
}

export interface Synthesized {
  readonly stack: QuantumPipelineStack;
  readonly template: Template;
  readonly json: CfnTemplate;
}

/** Bundling is skipped (context aws:cdk:bundling-stacks = []): no test here looks into bundles. */
export function synth(context: Record<string, unknown> = {}, options: { nag?: boolean } = {}): Synthesized {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = buildApp(app, loadConfig(context), fakeSparkArtifacts(), { nag: options.nag ?? false });
  const template = Template.fromStack(stack);
  return { stack, template, json: template.toJSON() as CfnTemplate };
}

export function definitionOf(s: Synthesized): AslDefinition {
  return resolveDefinition(s.json, s.stack.getLogicalId(s.stack.pipeline.stateMachine.node.defaultChild as never));
}

/** The environment variables of one of the pipeline's functions, tokens resolved. */
export function environmentOf(
  s: Synthesized,
  handler: keyof QuantumPipelineStack['functions']['functions'],
): Record<string, string> {
  const id = s.stack.getLogicalId(s.stack.functions.functions[handler].node.defaultChild as never);
  const variables =
    (s.json.Resources[id].Properties?.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ??
    {};
  return Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, resolveValue(s.json, v)]));
}

/**
 * The AwsSolutions-IAM5 findings still unacknowledged once `app` is synthesized (some
 * acknowledgements are made by aspects at synth), as `<finding> @ <construct path>`. Other rules
 * are left out: in a bare stack they flag the stubs, not the construct under test.
 */
export function unacknowledgedIam5(app: App): string[] {
  app.synth();
  return new AwsSolutionsChecks()
    .validateScope(app)
    .violations.filter((violation) => violation.ruleName.startsWith('AwsSolutions-IAM5'))
    .flatMap((violation) =>
      violation.violatingResources.map((resource) => `${violation.ruleName} @ ${resource.constructPath}`),
    );
}
