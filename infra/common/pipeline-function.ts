/**
 * One Lambda of the project, built the same way everywhere: an esbuild bundle of a handler in
 * lambdas/<state machine>/handlers, Node 24 on ARM, X-Ray on, a log group and a role of its own (the role may
 * write to that log group only, instead of the managed AWSLambdaBasicExecutionRole).
 */
import { join } from 'node:path';
import { type Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { STACK_NAME_ENV } from '../../lambdas/core/contract';
import { acknowledgeUnscopedActions } from './nag';

const REPO_ROOT = join(__dirname, '..', '..');

/** The variable every function gets its stack's name in: the Stack dimension of the metrics it writes. */
export const STACK_NAME_VARIABLE = STACK_NAME_ENV;

/** The thresholds the functions' logger knows (lambdas/core/logger.ts); it reads LOG_LEVEL. */
export const LOG_LEVELS = ['DEBUG', 'INFO', 'WARN', 'ERROR'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface PipelineFunctionOptions {
  /** The handler file, from the repository root, written out in full so that grep finds it (`lambdas/r2-sync/handlers/sync-table.ts`). */
  readonly handler: string;
  readonly timeout: Duration;
  /** @default 256 */
  readonly memorySize?: number;
  readonly environment: Record<string, string>;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** The LOG_LEVEL of the function: lines below it are not written. @default 'INFO' */
  readonly logLevel?: LogLevel;
}

/** The function of `options.handler`, with ids `<id>`, `<id>Role`, `<id>Logs` in `scope`. */
export function pipelineFunction(
  scope: Construct,
  id: string,
  options: PipelineFunctionOptions,
): nodejs.NodejsFunction {
  const logLevel = options.logLevel ?? 'INFO';
  // The logger would fall back to INFO at run time; a typo should rather fail the synth.
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new Error(
      `pipelineFunction ${id}: logLevel must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(logLevel)}`,
    );
  }
  const name = options.handler
    .replace(/^lambdas\//, '')
    .replace(/\/handlers\//, '/')
    .replace(/\.ts$/, '');
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: options.logRetention ?? logs.RetentionDays.ONE_MONTH,
  });
  const role = new iam.Role(scope, `${id}Role`, {
    assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
    description: `quantum pipeline Lambda ${name}`,
  });
  logGroup.grantWrite(role);
  const fn = new nodejs.NodejsFunction(scope, id, {
    role,
    entry: join(REPO_ROOT, options.handler),
    handler: 'handler',
    runtime: lambda.Runtime.NODEJS_24_X,
    architecture: lambda.Architecture.ARM_64,
    memorySize: options.memorySize ?? 256,
    timeout: options.timeout,
    environment: { ...options.environment, LOG_LEVEL: logLevel, [STACK_NAME_VARIABLE]: Stack.of(scope).stackName },
    logGroup,
    tracing: lambda.Tracing.ACTIVE,
    description: `quantum pipeline: ${name}`,
    bundling: {
      minify: true,
      sourceMap: true,
      keepNames: true, // Step Functions matches Retry/Catch on error class names
      target: 'node24',
      externalModules: ['@aws-sdk/*'],
    },
  });
  // Active tracing grants these X-Ray writes on "*" to the role.
  acknowledgeUnscopedActions(
    role,
    ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'],
    'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (tracing is on by design)',
  );
  return fn;
}

/**
 * The role of a function this project built: `pipelineFunction` always gives one, but
 * `IFunction.role` is optional in aws-cdk-lib's types (an imported function may have none).
 */
export function roleOf(fn: lambda.IFunction): iam.IRole {
  if (!fn.role) throw new Error(`roleOf: ${fn.node.path} has no role (a function imported by ARN?)`);
  return fn.role;
}
