/**
 * Keeps the last `versionsKept` versions of the Spark job code under s3://<artifacts>/spark-jobs/
 * (the running one always among them) and deletes older ones, at every deploy: a custom resource
 * whose handler is lambdas/feature-pipeline/handlers/prune-job-code.ts, behind aws-cdk-lib's
 * Provider framework. It runs after the upload, so the version just deployed is counted.
 */
import { CustomResource, Duration } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import { acknowledge, S3_DELETE_ACTIONS, S3_READ_ACTIONS, wildcardActions, wildcardResource } from '../common/nag';
import { type LogLevel, pipelineFunction, roleOf } from '../common/pipeline-function';
import { CODE_VERSION } from './job-code';

export const DEFAULT_VERSIONS_KEPT = 5;

export interface JobCodeRetentionProps {
  readonly artifacts: s3.IBucket;
  /** The folder of the version folders, ending in '/'. */
  readonly prefix: string;
  /** The version the jobs run: kept whatever its age. */
  readonly currentVersion: string;
  /** Versions kept, the current one included. @default 5 */
  readonly versionsKept?: number;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
}

export class JobCodeRetention extends Construct {
  readonly function: lambda.IFunction;
  readonly resource: CustomResource;

  constructor(scope: Construct, id: string, props: JobCodeRetentionProps) {
    super(scope, id);
    JobCodeRetention.validateProps(props);
    const fn = pipelineFunction(this, 'Prune', {
      handler: 'lambdas/feature-pipeline/handlers/prune-job-code.ts',
      timeout: Duration.minutes(5),
      environment: {},
      logLevel: props.logLevel,
    });
    this.function = fn;
    props.artifacts.grantRead(fn, `${props.prefix}*`);
    props.artifacts.grantDelete(fn, `${props.prefix}*`);
    acknowledge(
      roleOf(fn),
      [
        ...wildcardActions([...S3_READ_ACTIONS, ...S3_DELETE_ACTIONS]),
        wildcardResource(this, props.artifacts.arnForObjects(`${props.prefix}*`)),
      ],
      'lists the job code versions and deletes the old ones, only under the job code prefix',
    );
    const provider = new cr.Provider(this, 'Provider', { onEventHandler: fn });
    acknowledge(
      provider,
      [
        'L1',
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        wildcardResource(this, `${fn.functionArn}:*`),
      ],
      "aws-cdk-lib's custom resource Provider framework (runtime and policies set by aws-cdk-lib); it only invokes the prune function",
    );
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: provider.serviceToken,
      resourceType: 'Custom::JobCodeRetention',
      properties: {
        Bucket: props.artifacts.bucketName,
        Prefix: props.prefix,
        Keep: props.versionsKept ?? DEFAULT_VERSIONS_KEPT,
        CurrentVersion: props.currentVersion,
      },
    });
  }

  private static validateProps(props: JobCodeRetentionProps): void {
    const kept = props.versionsKept;
    if (kept !== undefined && (!Number.isInteger(kept) || kept < 1))
      throw new Error(`JobCodeRetention: versionsKept must be a whole number >= 1, got ${kept}`);
    if (!CODE_VERSION.test(props.currentVersion))
      throw new Error(
        `JobCodeRetention: currentVersion must be 16 hex digits, got ${JSON.stringify(props.currentVersion)}`,
      );
    if (!/^([^/]+\/)+$/.test(props.prefix))
      throw new Error(`JobCodeRetention: prefix must end in "/", got ${JSON.stringify(props.prefix)}`);
  }
}
