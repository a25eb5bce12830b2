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

export const ARTIFACTS_PREFIX = 'spark-jobs/';
export const EMR_LOGS_PREFIX = 'emr-logs/';
const REQUIRED_ARTIFACTS = ['feature_processing.py', 'ml_feature_processing.py', 'quantum_pipeline.zip'];

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
  /** `npm run build:spark` output to upload; undefined skips the upload (tests). */
  readonly artifactsSourceDir?: string;
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
    const idle = props.idleTimeoutMinutes ?? 15;
    if (!Number.isInteger(idle) || idle < 1) throw new Error(`SparkCompute: idleTimeoutMinutes must be >= 1, got ${idle}`);
    if (props.artifactsSourceDir !== undefined) {
      const missing = REQUIRED_ARTIFACTS.filter((file) => !existsSync(join(props.artifactsSourceDir!, file)));
      if (missing.length) {
        throw new Error(`SparkCompute: artifactsSourceDir ${props.artifactsSourceDir} lacks ${missing.join(', ')}: run \`npm run build:spark\``);
      }
    }
    this.catalogName = props.catalogName ?? 'quantum_catalog';
    this.namespace = props.namespace ?? 'quantum_features';
    this.features = props.features;
    this.artifactsUri = props.artifacts.s3UrlForObject(ARTIFACTS_PREFIX);
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

    this.jobRole = new iam.Role(this, 'JobRole', {
      assumedBy: new iam.ServicePrincipal('emr-serverless.amazonaws.com'),
      description: 'Assumed by the Spark job runs of the feature pipeline',
    });
    props.rawResults.grantRead(this.jobRole);
    props.features.grantReadWrite(this.jobRole);
    props.artifacts.grantRead(this.jobRole, `${ARTIFACTS_PREFIX}*`);
    props.artifacts.grantReadWrite(this.jobRole, `${EMR_LOGS_PREFIX}*`);
    const glueArn = (resource: string) => Stack.of(this).formatArn({ service: 'glue', resource, resourceName: undefined });
    this.jobRole.addToPolicy(new iam.PolicyStatement({
      sid: 'IcebergGlueCatalog',
      actions: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:CreateTable', 'glue:UpdateTable'],
      resources: [
        glueArn('catalog'),
        Stack.of(this).formatArn({ service: 'glue', resource: 'database', resourceName: this.namespace }),
        Stack.of(this).formatArn({ service: 'glue', resource: 'table', resourceName: `${this.namespace}/*` }),
      ],
    }));

    if (props.artifactsSourceDir !== undefined) {
      new s3deploy.BucketDeployment(this, 'JobCode', {
        sources: [s3deploy.Source.asset(props.artifactsSourceDir)],
        destinationBucket: props.artifacts,
        destinationKeyPrefix: ARTIFACTS_PREFIX,
        prune: true,
      });
    }
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

  /** Start, watch and cancel job runs of the application, passing the job role. */
  grantStartJobRun(grantee: iam.IGrantable): iam.Grant {
    const applicationArn = this.application.attrArn;
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['emr-serverless:StartJobRun', 'emr-serverless:GetJobRun', 'emr-serverless:CancelJobRun'],
      resourceArns: [applicationArn, `${applicationArn}/jobruns/*`],
    });
    this.jobRole.grantPassRole(grantee.grantPrincipal);
    return grant;
  }
}
