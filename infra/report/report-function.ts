/**
 * The run report's Lambda (lambdas/report/handlers/write-report.ts): reads the run summaries and
 * job 2's report data, writes `reports/<run id>.html` to the reports bucket. It may read only the
 * summary prefix and write only under `reports/`.
 */
import { Duration } from 'aws-cdk-lib';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { REPORT_ENV, REPORT_PREFIX } from '../../lambdas/report/contract';
import { acknowledge, S3_PUT_ACTIONS, S3_READ_ACTIONS, wildcardActions, wildcardResource } from '../common/nag';
import { type LogLevel, pipelineFunction, roleOf } from '../common/pipeline-function';
import { summaryPrefix } from '../feature-pipeline/spark-job-functions';

export interface RunReportFunctionProps {
  /** The bucket of the run summaries and the report data. */
  readonly features: s3.IBucket;
  /** Folder of the run summaries, s3:// or s3a:// (the jobs' --summary-uri). */
  readonly summaryUri: string;
  /** Where the pages go (`reports/<run id>.html`). */
  readonly reports: s3.IBucket;
  /** S3-compatible endpoint (local profile). @default the AWS S3 endpoint */
  readonly s3Endpoint?: string;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
}

export class RunReportFunction extends Construct {
  readonly function: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: RunReportFunctionProps) {
    super(scope, id);
    if (!/^s3a?:\/\/[^/\s]+/.test(props.summaryUri)) {
      throw new Error(
        `RunReportFunction: summaryUri must be an s3:// or s3a:// URI, got ${JSON.stringify(props.summaryUri)}`,
      );
    }
    this.function = pipelineFunction(this, 'WriteReport', {
      handler: 'lambdas/report/handlers/write-report.ts',
      // Reads ~60 small summaries and renders a page of a few hundred KB.
      timeout: Duration.seconds(60),
      memorySize: 512,
      environment: {
        [REPORT_ENV.bucket]: props.reports.bucketName,
        [REPORT_ENV.summaryUri]: props.summaryUri,
        ...(props.s3Endpoint ? { [REPORT_ENV.s3Endpoint]: props.s3Endpoint } : {}),
      },
      logRetention: props.logRetention,
      logLevel: props.logLevel,
    });
    const summaries = `${summaryPrefix(props.summaryUri)}*`;
    props.features.grantRead(this.function, summaries);
    props.reports.grantPut(this.function, `${REPORT_PREFIX}*`);
    const role = roleOf(this.function);
    acknowledge(
      role,
      wildcardActions([...S3_READ_ACTIONS, ...S3_PUT_ACTIONS]),
      'grantRead/grantPut action groups of CDK, limited to the summary prefix and the reports prefix',
    );
    acknowledge(
      role,
      [
        wildcardResource(this, props.features.arnForObjects(summaries)),
        wildcardResource(this, props.reports.arnForObjects(`${REPORT_PREFIX}*`)),
      ],
      'one summary and one page per run under these prefixes; their keys are not known in advance',
    );
  }
}
