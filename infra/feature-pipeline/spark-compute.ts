/**
 * Where the Spark jobs run on AWS: an EMR Serverless Spark application, the role its job runs
 * assume, the Glue database behind the Iceberg catalog, and the job code uploaded at deploy time.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Aws, Stack } from 'aws-cdk-lib';
import * as emrs from 'aws-cdk-lib/aws-emrserverless';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import {
  acknowledge,
  S3_DELETE_ACTIONS,
  S3_PUT_ACTIONS,
  S3_READ_ACTIONS,
  wildcardActions,
  wildcardResource,
} from '../common/nag';
import type { LogLevel } from '../common/pipeline-function';
import { CODE_VERSION, type SparkJobCode } from './job-code';
import { JobCodeRetention } from './job-code-retention';

export const ARTIFACTS_PREFIX = 'spark-jobs/';
export const EMR_LOGS_PREFIX = 'emr-logs/';
const REQUIRED_ARTIFACTS = [
  'feature_processing.py',
  'ml_feature_processing.py',
  'table_maintenance.py',
  'quantum_pipeline.zip',
];
const DEFAULT_IDLE_TIMEOUT_MINUTES = 15;

export interface SparkComputeProps {
  readonly rawResults: s3.IBucket;
  readonly features: s3.IBucket;
  readonly artifacts: s3.IBucket;
  /** @default 'emr-spark-8.0.0' (Spark 4.0.2, Iceberg 1.10.1) */
  readonly releaseLabel?: string;
  /** @default '16 vCPU' / '64 GB' / '200 GB' */
  readonly maximumCpu?: string;
  readonly maximumMemory?: string;
  readonly maximumDisk?: string;
  /** @default 15 */
  readonly idleTimeoutMinutes?: number;
  /** Iceberg catalog name in Spark conf. @default 'quantum_catalog' */
  readonly catalogName?: string;
  /** Glue database = Iceberg namespace. @default 'quantum_features' */
  readonly namespace?: string;
  /**
   * The packaged job code, uploaded under spark-jobs/<version>/ and run from there.
   * @default none: no upload, and the jobs run from spark-jobs/ (tests)
   */
  readonly jobCode?: SparkJobCode;
  /** Job code versions kept in the bucket at each deploy, the running one included. @default 5 */
  readonly codeVersionsKept?: number;
  /** LOG_LEVEL of the job code retention function. @default 'INFO' */
  readonly logLevel?: LogLevel;
}

export class SparkCompute extends Construct {
  readonly application: emrs.CfnApplication;
  readonly jobRole: iam.Role;
  readonly database: glue.CfnDatabase;
  readonly artifactsUri: string;
  readonly logUri: string;
  readonly catalogName: string;
  readonly namespace: string;
  private readonly features: s3.IBucket;

  constructor(scope: Construct, id: string, props: SparkComputeProps) {
    super(scope, id);
    SparkCompute.validateProps(props);
    const idle = props.idleTimeoutMinutes ?? DEFAULT_IDLE_TIMEOUT_MINUTES;
    this.catalogName = props.catalogName ?? 'quantum_catalog';
    this.namespace = props.namespace ?? 'quantum_features';
    this.features = props.features;
    const runVersion = props.jobCode && (props.jobCode.runVersion ?? props.jobCode.builtVersion);
    this.artifactsUri = props.artifacts.s3UrlForObject(`${ARTIFACTS_PREFIX}${runVersion ? `${runVersion}/` : ''}`);
    this.logUri = props.artifacts.s3UrlForObject(EMR_LOGS_PREFIX);

    this.application = new emrs.CfnApplication(this, 'Application', {
      name: `${Stack.of(this).stackName}-spark`,
      type: 'SPARK',
      releaseLabel: props.releaseLabel ?? 'emr-spark-8.0.0',
      autoStartConfiguration: { enabled: true },
      autoStopConfiguration: { enabled: true, idleTimeoutMinutes: idle },
      maximumCapacity: {
        cpu: props.maximumCpu ?? '16 vCPU',
        memory: props.maximumMemory ?? '64 GB',
        disk: props.maximumDisk ?? '200 GB',
      },
    });

    this.database = new glue.CfnDatabase(this, 'CatalogDatabase', {
      catalogId: Aws.ACCOUNT_ID,
      databaseInput: { name: this.namespace, description: 'Iceberg tables of the quantum feature pipeline' },
    });

    // Only EMR Serverless on behalf of this application, in this account, may assume the job role
    // (confused-deputy conditions). The application names no role, so this makes no cycle.
    const application = this.application.attrArn;
    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('emr-serverless.amazonaws.com').withConditions({
        StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID },
        ArnLike: { 'aws:SourceArn': [application, `${application}/jobruns/*`] },
      }),
      description: 'Assumed by the Spark job runs of the feature pipeline',
    });
    this.grantJobRole(props);

    // A rollback runs code deployed before; only the version just built is uploaded.
    if (props.jobCode && runVersion) {
      const upload =
        runVersion === props.jobCode.builtVersion
          ? this.uploadJobCode(props.jobCode.sourceDir, runVersion, props.artifacts)
          : undefined;
      const retention = new JobCodeRetention(this, 'JobCodeRetention', {
        artifacts: props.artifacts,
        prefix: ARTIFACTS_PREFIX,
        currentVersion: runVersion,
        versionsKept: props.codeVersionsKept,
        logLevel: props.logLevel,
      });
      // Pruned after the upload, so the version just deployed counts among those kept.
      if (upload) retention.node.addDependency(upload);
    }
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: SparkComputeProps): void {
    const idle = props.idleTimeoutMinutes;
    if (idle !== undefined && (!Number.isInteger(idle) || idle < 1))
      throw new Error(`SparkCompute: idleTimeoutMinutes must be >= 1, got ${idle}`);
    const code = props.jobCode;
    if (code === undefined) return;
    for (const [prop, version] of [
      ['builtVersion', code.builtVersion],
      ['runVersion', code.runVersion],
    ] as const) {
      if (version !== undefined && !CODE_VERSION.test(version))
        throw new Error(`SparkCompute: jobCode.${prop} must be 16 hex digits, got ${JSON.stringify(version)}`);
    }
    const missing = REQUIRED_ARTIFACTS.filter((file) => !existsSync(join(code.sourceDir, file)));
    if (missing.length) {
      throw new Error(
        `SparkCompute: jobCode.sourceDir ${code.sourceDir} lacks ${missing.join(', ')}: run \`npm run build:spark\``,
      );
    }
  }

  /** The job runs read the raw results and the job code, write the warehouse and their logs, and keep the Iceberg tables in Glue. */
  private grantJobRole(props: SparkComputeProps): void {
    const role = this.jobRole;
    props.rawResults.grantRead(role);
    props.features.grantReadWrite(role);
    props.artifacts.grantRead(role, `${ARTIFACTS_PREFIX}*`);
    props.artifacts.grantReadWrite(role, `${EMR_LOGS_PREFIX}*`);
    acknowledge(
      role,
      wildcardActions([...S3_READ_ACTIONS, ...S3_PUT_ACTIONS, ...S3_DELETE_ACTIONS]),
      "grantRead/grantReadWrite action groups of CDK on the pipeline's own buckets",
    );
    const objectScopes: Array<[s3.IBucket, string, string]> = [
      [props.rawResults, '*', 'job 1 lists and reads every raw result object'],
      [props.features, '*', 'the Iceberg warehouse and run summaries: table files are created by Spark'],
      [props.artifacts, `${ARTIFACTS_PREFIX}*`, 'the job code uploaded at deploy time'],
      [props.artifacts, `${EMR_LOGS_PREFIX}*`, 'EMR Serverless writes driver and executor logs here'],
    ];
    for (const [bucket, pattern, reason] of objectScopes)
      acknowledge(role, [wildcardResource(this, bucket.arnForObjects(pattern))], reason);

    const stack = Stack.of(this);
    const tables = stack.formatArn({ service: 'glue', resource: 'table', resourceName: `${this.namespace}/*` });
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'IcebergGlueCatalog',
        actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:CreateTable', 'glue:UpdateTable'],
        resources: [
          stack.formatArn({ service: 'glue', resource: 'catalog', resourceName: undefined }),
          stack.formatArn({ service: 'glue', resource: 'database', resourceName: this.namespace }),
          tables,
        ],
      }),
    );
    acknowledge(
      role,
      [wildcardResource(this, tables)],
      'Iceberg creates and updates the tables of its one Glue database',
    );
  }

  /**
   * Uploads `npm run build:spark`'s output under its version's own prefix; the provider behind
   * BucketDeployment is aws-cdk-lib's own code. Pruning stays inside that prefix, and the previous
   * version's prefix is kept when the next deploy moves on (retainOnDelete), so a job still
   * running the old code keeps reading it, and a rollback finds it.
   */
  private uploadJobCode(sourceDir: string, version: string, artifacts: s3.IBucket): s3deploy.BucketDeployment {
    const deployment = new s3deploy.BucketDeployment(this, 'JobCode', {
      sources: [s3deploy.Source.asset(sourceDir)],
      destinationBucket: artifacts,
      destinationKeyPrefix: `${ARTIFACTS_PREFIX}${version}/`,
      prune: true,
      retainOnDelete: true,
    });
    // The provider is a singleton Lambda in the stack; its role is one of its children.
    const provider = deployment.handlerRole.node.scope;
    if (!provider) throw new Error('SparkCompute: the BucketDeployment role has no parent construct');
    const reason =
      'CDK BucketDeployment provider (uploads the Spark job code at deploy time); its runtime and policies are set by aws-cdk-lib';
    acknowledge(
      provider,
      [
        'L1',
        'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        ...wildcardActions([...S3_READ_ACTIONS, ...S3_PUT_ACTIONS, ...S3_DELETE_ACTIONS]),
        // The CDK assets bucket of the default synthesizer, where the job code waits as an asset.
        'IAM5[Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*]',
        wildcardResource(this, artifacts.arnForObjects('*')),
      ],
      reason,
    );
    return deployment;
  }

  /** Spark conf of the job runs: Iceberg on the Glue catalog (EMR ships the Iceberg runtime). */
  sparkConf(shufflePartitions: number, extra: Readonly<Record<string, string>> = {}): Record<string, string> {
    const catalog = `spark.sql.catalog.${this.catalogName}`;
    return {
      'spark.sql.extensions': 'org.apache.iceberg.spark.extensions.IcebergSparkSessionExtensions',
      [catalog]: 'org.apache.iceberg.spark.SparkCatalog',
      [`${catalog}.type`]: 'glue',
      [`${catalog}.warehouse`]: this.features.s3UrlForObject('warehouse/'),
      [`${catalog}.io-impl`]: 'org.apache.iceberg.aws.s3.S3FileIO',
      'spark.jars': '/usr/share/aws/iceberg/lib/iceberg-spark3-runtime.jar',
      'spark.serializer': 'org.apache.spark.serializer.KryoSerializer',
      'spark.sql.shuffle.partitions': String(shufflePartitions),
      ...extra,
    };
  }

  /**
   * Start job runs of the application (the submit step): StartJobRun on the application, and
   * iam:PassRole of the job role to EMR Serverless only (iam:PassedToService).
   */
  grantStartJobRun(grantee: iam.IGrantable): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['emr-serverless:StartJobRun'],
      resourceArns: [this.application.attrArn],
    });
    iam.Grant.addToPrincipal({
      grantee,
      actions: ['iam:PassRole'],
      resourceArns: [this.jobRole.roleArn],
      conditions: { StringEquals: { 'iam:PassedToService': 'emr-serverless.amazonaws.com' } },
    });
    return grant;
  }

  /** Read the state of the application's job runs (the status step). */
  grantGetJobRun(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnJobRuns(grantee, 'emr-serverless:GetJobRun');
  }

  /** Cancel the application's job runs (the status step on a timeout, the cancel step). */
  grantCancelJobRun(grantee: iam.IGrantable): iam.Grant {
    return this.grantOnJobRuns(grantee, 'emr-serverless:CancelJobRun');
  }

  private grantOnJobRuns(grantee: iam.IGrantable, action: string): iam.Grant {
    const jobRuns = `${this.application.attrArn}/jobruns/*`;
    const grant = iam.Grant.addToPrincipal({ grantee, actions: [action], resourceArns: [jobRuns] });
    if (Construct.isConstruct(grantee.grantPrincipal)) {
      acknowledge(
        grantee.grantPrincipal,
        [wildcardResource(this, jobRuns)],
        'job run ids are generated by EMR Serverless at StartJobRun; scoped to the one application',
      );
    }
    return grant;
  }
}
