/**
 * The report Lambdas: the run report of the feature pipeline (lambdas/report/handlers/write-report.ts)
 * and the batch report of the VQE batch (write-batch-report.ts). Both read the run summaries and
 * job 2's report data and write `reports/<id>.html` to the reports bucket; the batch report also
 * reads the batch's run states. Each may read only those prefixes and write only under `reports/`.
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

export interface ReportFunctionProps {
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

export type RunReportFunctionProps = ReportFunctionProps;

export interface BatchReportFunctionProps extends ReportFunctionProps {
  /** Where the batch keeps its run states (its state bucket and prefix): read only. */
  readonly batchState: { readonly bucket: s3.IBucket; readonly prefix: string };
}

/** Writes the page of one feature pipeline run: `reports/<run id>.html`. */
export class RunReportFunction extends Construct {
  readonly function: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: RunReportFunctionProps) {
    super(scope, id);
    this.function = reportFunction(this, 'WriteReport', 'lambdas/report/handlers/write-report.ts', props, {});
  }
}

/** Writes the page of one VQE batch: `reports/<batch id>.html`. */
export class BatchReportFunction extends Construct {
  readonly function: nodejs.NodejsFunction;

  constructor(scope: Construct, id: string, props: BatchReportFunctionProps) {
    super(scope, id);
    const { bucket, prefix } = props.batchState;
    this.function = reportFunction(this, 'WriteBatchReport', 'lambdas/report/handlers/write-batch-report.ts', props, {
      [REPORT_ENV.batchStateBucket]: bucket.bucketName,
      [REPORT_ENV.batchStatePrefix]: prefix,
    });
    bucket.grantRead(this.function, `${prefix}*`);
    acknowledge(
      roleOf(this.function),
      [wildcardResource(this, bucket.arnForObjects(`${prefix}*`))],
      "the batch's plans and run states, named by batch ids and run keys",
    );
  }
}

/** The function both pages share: checks, environment, and the summary-read and page-put grants. */
function reportFunction(
  scope: Construct,
  id: string,
  handler: string,
  props: ReportFunctionProps,
  environment: Record<string, string>,
): nodejs.NodejsFunction {
  if (!/^s3a?:\/\/[^/\s]+/.test(props.summaryUri)) {
    throw new Error(
      `${scope.constructor.name}: summaryUri must be an s3:// or s3a:// URI, got ${JSON.stringify(props.summaryUri)}`,
    );
  }
  const fn = pipelineFunction(scope, id, {
    handler,
    // Reads ~60 small summaries (or a batch's run states) and renders a page of a few hundred KB.
    timeout: Duration.seconds(60),
    memorySize: 512,
    environment: {
      [REPORT_ENV.bucket]: props.reports.bucketName,
      [REPORT_ENV.summaryUri]: props.summaryUri,
      ...(props.s3Endpoint ? { [REPORT_ENV.s3Endpoint]: props.s3Endpoint } : {}),
      ...environment,
    },
    logRetention: props.logRetention,
    logLevel: props.logLevel,
  });
  const summaries = `${summaryPrefix(props.summaryUri)}*`;
  props.features.grantRead(fn, summaries);
  props.reports.grantPut(fn, `${REPORT_PREFIX}*`);
  const role = roleOf(fn);
  acknowledge(
    role,
    wildcardActions([...S3_READ_ACTIONS, ...S3_PUT_ACTIONS]),
    'grantRead/grantPut action groups of CDK, limited to the summary prefix and the reports prefix',
  );
  acknowledge(
    role,
    [
      wildcardResource(scope, props.features.arnForObjects(summaries)),
      wildcardResource(scope, props.reports.arnForObjects(`${REPORT_PREFIX}*`)),
    ],
    'one summary and one page per run under these prefixes; their keys are not known in advance',
  );
  return fn;
}
