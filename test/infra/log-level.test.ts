/** LOG_LEVEL: from the `logLevel` config key, through the stack and constructs, to every function. */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { LOG_LEVELS, type LogLevel, pipelineFunction } from '../../infra/common/pipeline-function';
import { Logger } from '../../lambdas/core/logger';
import { synth } from './support';

/** The local profile deploys every function of the project (pipeline and its run report, the debounce of new objects, table maintenance's validation, R2 sync, VQE batch and its report) and no CDK provider function. */
const ALL_FUNCTIONS = 6 + 1 + 1 + 1 + 2 + 5 + 1;

describe('LOG_LEVEL of the functions', () => {
  it('is INFO on every function by default', () => {
    // Act
    const { template } = synth({ profile: 'local' });

    // Assess
    template.resourceCountIs('AWS::Lambda::Function', ALL_FUNCTIONS);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LOG_LEVEL: 'INFO' }) },
    });
  });

  it('follows logLevel on every function', () => {
    // Act
    const { template } = synth({ profile: 'local', logLevel: 'DEBUG' });

    // Assess
    template.resourceCountIs('AWS::Lambda::Function', ALL_FUNCTIONS);
    template.allResourcesProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ LOG_LEVEL: 'DEBUG' }) },
    });
  });

  it("reaches the functions of the aws profile too (the BucketDeployment provider is CDK's own and has none)", () => {
    // Act
    const { template } = synth({ logLevel: 'WARN', batch: { host: { instanceId: 'i-0123456789abcdef0' } } });
    const levels = Object.values(template.findResources('AWS::Lambda::Function'))
      .map((fn) => fn.Properties.Environment?.Variables?.LOG_LEVEL as string | undefined)
      .filter((level) => level !== undefined);

    // Assess: the pipeline's 6, its run report, the debounce of new objects, the job code
    // retention, table maintenance's validation, the batch's 5 and its report
    expect(levels).toEqual(Array(16).fill('WARN'));
  });

  it("names only levels the functions' logger knows", () => {
    // Prepare
    const lines: string[] = [];

    // Act: an unknown level makes the logger warn once and fall back to INFO
    for (const level of LOG_LEVELS) new Logger('test', {}, level, (line) => lines.push(line));

    // Assess
    expect(lines).toEqual([]);
  });

  it('refuses a level the logger does not know, naming the function and the value', () => {
    // Prepare
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');

    // Act + Assess
    expect(() =>
      pipelineFunction(stack, 'Loud', {
        handler: 'lambdas/vqe-batch/handlers/plan.ts',
        timeout: Duration.seconds(10),
        environment: {},
        logLevel: 'LOUD' as LogLevel,
      }),
    ).toThrow('pipelineFunction Loud: logLevel must be one of DEBUG, INFO, WARN, ERROR, got "LOUD"');
  });

  it('sets LOG_LEVEL after the given environment, so no caller can override it by accident', () => {
    // Prepare
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');

    // Act
    pipelineFunction(stack, 'Quiet', {
      handler: 'lambdas/vqe-batch/handlers/plan.ts',
      timeout: Duration.seconds(10),
      environment: { LOG_LEVEL: 'DEBUG', OTHER: 'x' },
      logLevel: 'ERROR',
    });

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { LOG_LEVEL: 'ERROR', OTHER: 'x' } },
    });
  });
});
