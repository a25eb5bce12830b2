/**
 * The Lambda steps of the feature pipeline: one small esbuild bundle per handler in
 * lambdas/feature-pipeline/handlers. Their settings reach them as environment variables (names in
 * lambdas/feature-pipeline/contract.ts).
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { ENV, type PipelineSettings } from '../../lambdas/feature-pipeline/contract';
import { acknowledge, S3_READ_ACTIONS, wildcardActions, wildcardResource } from '../common/nag';
import { type LogLevel, pipelineFunction, roleOf } from '../common/pipeline-function';
import type { SparkCompute } from './spark-compute';

export const HANDLER_NAMES = [
  'validate-input',
  'acquire-run-slot',
  'submit-job',
  'job-status',
  'cancel-job',
  'read-summary',
] as const;
export type HandlerName = (typeof HANDLER_NAMES)[number];

/** Standalone master + S3-compatible store (local profile). */
export interface StandaloneBackendSettings {
  readonly kind: 'standalone';
  readonly restUrl: string;
  readonly masterUrl: string;
  readonly artifactsDir: string;
  readonly python: string;
  /** The S3-compatible store, path style (the region comes from AWS_REGION, which Lambda and the local runner set). */
  readonly s3Endpoint: string;
}
export interface EmrBackendSettings {
  readonly kind: 'emr-serverless';
  readonly compute: SparkCompute;
}

export interface SparkJobFunctionsProps {
  readonly backend: StandaloneBackendSettings | EmrBackendSettings;
  /** What the jobs are submitted with (PIPELINE_SETTINGS). */
  readonly settings: PipelineSettings;
  /** The bucket of the run summaries (read by read-summary). */
  readonly features: s3.IBucket;
  /** Name of the state machine whose running executions acquire-run-slot lists. */
  readonly stateMachineName: string;
  /**
   * Other state machines sharing the run slot (table maintenance), whose executions acquire-run-slot
   * also lists. @default none
   */
  readonly sharedRunSlotStateMachineNames?: readonly string[];
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** LOG_LEVEL of the functions. @default 'INFO' */
  readonly logLevel?: LogLevel;
  /**
   * The bus read-summary puts "Data Quality Finding" events on (EVENT_BUS_NAME, events:PutEvents).
   * Its role must also be a producer of a PipelineEventBus. @default none: findings are only logged
   */
  readonly eventBus?: events.IEventBus;
}

export class SparkJobFunctions extends Construct {
  readonly functions: Readonly<Record<HandlerName, nodejs.NodejsFunction>>;

  constructor(scope: Construct, id: string, props: SparkJobFunctionsProps) {
    super(scope, id);
    SparkJobFunctions.validateProps(props);
    const environment = this.environment(props);
    const make = (id: string, handler: string, timeout: Duration) =>
      pipelineFunction(this, id, {
        handler,
        timeout,
        environment,
        logRetention: props.logRetention,
        logLevel: props.logLevel,
      });
    this.functions = {
      'validate-input': make(
        'ValidateInput',
        'lambdas/feature-pipeline/handlers/validate-input.ts',
        Duration.seconds(10),
      ),
      'acquire-run-slot': make(
        'AcquireRunSlot',
        'lambdas/feature-pipeline/handlers/acquire-run-slot.ts',
        Duration.seconds(30),
      ),
      'submit-job': make('SubmitJob', 'lambdas/feature-pipeline/handlers/submit-job.ts', Duration.seconds(60)),
      'job-status': make('JobStatus', 'lambdas/feature-pipeline/handlers/job-status.ts', Duration.seconds(60)),
      'cancel-job': make('CancelJob', 'lambdas/feature-pipeline/handlers/cancel-job.ts', Duration.seconds(60)),
      'read-summary': make('ReadSummary', 'lambdas/feature-pipeline/handlers/read-summary.ts', Duration.seconds(30)),
    };
    this.grant(props);
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: SparkJobFunctionsProps): void {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(props.stateMachineName)) {
      throw new Error(
        `SparkJobFunctions: stateMachineName must be 1-80 letters, digits, - or _, got ${JSON.stringify(props.stateMachineName)}`,
      );
    }
  }

  private environment(props: SparkJobFunctionsProps): Record<string, string> {
    const settings = JSON.stringify(props.settings);
    if (props.backend.kind === 'emr-serverless') {
      const { compute } = props.backend;
      return {
        [ENV.backend]: 'emr-serverless',
        [ENV.settings]: settings,
        [ENV.artifactsUri]: compute.artifactsUri,
        [ENV.emrApplicationId]: compute.application.attrApplicationId,
        [ENV.emrExecutionRoleArn]: compute.jobRole.roleArn,
        [ENV.emrLogUri]: compute.logUri,
      };
    }
    const b = props.backend;
    return {
      [ENV.backend]: 'standalone',
      [ENV.settings]: settings,
      [ENV.artifactsUri]: b.artifactsDir,
      [ENV.sparkRestUrl]: b.restUrl,
      [ENV.sparkMasterUrl]: b.masterUrl,
      [ENV.sparkPython]: b.python,
      [ENV.s3Endpoint]: b.s3Endpoint,
      [ENV.s3ForcePathStyle]: 'true',
    };
  }

  private grant(props: SparkJobFunctionsProps): void {
    const fns = this.functions;
    const summaries = `${summaryPrefix(props.settings.summaryUri)}*`;
    props.features.grantRead(fns['read-summary'], summaries);
    if (props.eventBus) {
      fns['read-summary'].addEnvironment(ENV.eventBusName, props.eventBus.eventBusName);
      props.eventBus.grantPutEventsTo(fns['read-summary']);
    }
    const reader = roleOf(fns['read-summary']);
    acknowledge(
      reader,
      wildcardActions(S3_READ_ACTIONS),
      'grantRead action groups of CDK, limited to the run-summary prefix of one bucket',
    );
    acknowledge(
      reader,
      [wildcardResource(this, props.features.arnForObjects(summaries))],
      'run summaries are one object per job and run under this prefix; their keys are not known in advance',
    );
    // The state machine references these functions, so its ARN is built from its fixed name
    // rather than taken from the construct (which would be a circular reference).
    const stateMachineArn = (name: string) =>
      Stack.of(this).formatArn({
        service: 'states',
        resource: 'stateMachine',
        resourceName: name,
        arnFormat: ArnFormat.COLON_RESOURCE_NAME,
      });
    fns['acquire-run-slot'].addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ListOwnExecutions',
        actions: ['states:ListExecutions'],
        resources: [props.stateMachineName, ...(props.sharedRunSlotStateMachineNames ?? [])].map(stateMachineArn),
      }),
    );
    if (props.backend.kind === 'emr-serverless') {
      // Each step what its backend call needs: submit starts (and passes the job role), status
      // reads and cancels a run past its timeout, cancel cancels.
      const { compute } = props.backend;
      compute.grantStartJobRun(fns['submit-job']);
      compute.grantGetJobRun(fns['job-status']);
      compute.grantCancelJobRun(fns['job-status']);
      compute.grantCancelJobRun(fns['cancel-job']);
    }
  }
}

/** s3://bucket/pipeline-runs -> 'pipeline-runs/' (the key prefix of the summaries). */
export function summaryPrefix(summaryUri: string): string {
  const key = summaryUri.replace(/^s3a?:\/\/[^/]+\/?/, '').replace(/\/+$/, '');
  return key ? `${key}/` : '';
}
