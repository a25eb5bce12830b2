/**
 * The pipeline's buckets. The code that reads and writes them uses only what Garage and
 * LocalStack implement too (GET/PUT/LIST/DELETE, multipart, path-style): no versioning, object
 * lock or tagging is relied on; those below are AWS-side hardening only. The raw-results bucket
 * sends its events to EventBridge ("Object Created" starts the pipeline, object-arrivals.ts);
 * Garage sends none, so the embedded runner plays that part (local-object-arrivals.ts), and a lost
 * event costs nothing but a later run (the daily schedule). The raw-results bucket is versioned so that a raw file overwritten or deleted by mistake can be
 * restored for `noncurrentVersionDays` (locally the data plane creates the buckets, unversioned).
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';

const DEFAULT_QUARANTINE_RETENTION_DAYS = 90;
const DEFAULT_LOG_RETENTION_DAYS = 30;
const DEFAULT_NONCURRENT_VERSION_DAYS = 30;

export interface PipelineBucketsProps {
  /** @default CloudFormation-generated names */
  readonly rawResultsBucketName?: string;
  /** @default CloudFormation-generated name */
  readonly featuresBucketName?: string;
  /** @default CloudFormation-generated name */
  readonly artifactsBucketName?: string;
  /** `destroy` also empties the buckets on stack deletion. @default 'retain' */
  readonly removalPolicy?: 'retain' | 'destroy';
  /** Days before quarantined raw objects and EMR logs expire. @default 90 and 30 */
  readonly quarantineRetentionDays?: number;
  readonly logRetentionDays?: number;
  /** Days a noncurrent (overwritten or deleted) version of a raw-results object is kept. @default 30 */
  readonly noncurrentVersionDays?: number;
}

export class PipelineBuckets extends Construct {
  readonly rawResults: s3.Bucket;
  readonly features: s3.Bucket;
  readonly artifacts: s3.Bucket;
  readonly accessLogs: s3.Bucket;

  constructor(scope: Construct, id: string, props: PipelineBucketsProps = {}) {
    super(scope, id);
    PipelineBuckets.validateProps(props);
    const quarantineDays = props.quarantineRetentionDays ?? DEFAULT_QUARANTINE_RETENTION_DAYS;
    const logDays = props.logRetentionDays ?? DEFAULT_LOG_RETENTION_DAYS;
    const noncurrentDays = props.noncurrentVersionDays ?? DEFAULT_NONCURRENT_VERSION_DAYS;
    const destroy = (props.removalPolicy ?? 'retain') === 'destroy';
    const common: s3.BucketProps = {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      removalPolicy: destroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: destroy,
    };
    const abortUploads: s3.LifecycleRule = {
      id: 'abort-incomplete-uploads',
      abortIncompleteMultipartUploadAfter: Duration.days(7),
    };

    this.accessLogs = new s3.Bucket(this, 'AccessLogs', {
      ...common,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_PREFERRED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(365) }, abortUploads],
    });
    const logged = (prefix: string): Partial<s3.BucketProps> => ({
      serverAccessLogsBucket: this.accessLogs,
      serverAccessLogsPrefix: `${prefix}/`,
    });

    this.rawResults = new s3.Bucket(this, 'RawResults', {
      ...common,
      ...logged('raw-results'),
      bucketName: props.rawResultsBucketName,
      versioned: true,
      lifecycleRules: [
        { id: 'expire-quarantine', prefix: 'quarantine/', expiration: Duration.days(quarantineDays) },
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: Duration.days(noncurrentDays),
          expiredObjectDeleteMarker: true,
        },
        abortUploads,
      ],
    });
    // CloudFormation's own property: `eventBridgeEnabled: true` would deploy CDK's notifications
    // custom resource (a Lambda with s3:PutBucketNotification on "*") for the same setting.
    (this.rawResults.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
      eventBridgeConfiguration: { eventBridgeEnabled: true },
    };
    this.features = new s3.Bucket(this, 'Features', {
      ...common,
      ...logged('features'),
      bucketName: props.featuresBucketName,
      lifecycleRules: [abortUploads],
    });
    this.artifacts = new s3.Bucket(this, 'Artifacts', {
      ...common,
      ...logged('artifacts'),
      bucketName: props.artifactsBucketName,
      lifecycleRules: [
        { id: 'expire-emr-logs', prefix: 'emr-logs/', expiration: Duration.days(logDays) },
        abortUploads,
      ],
    });
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: PipelineBucketsProps): void {
    for (const [name, days] of [
      ['quarantineRetentionDays', props.quarantineRetentionDays],
      ['logRetentionDays', props.logRetentionDays],
      ['noncurrentVersionDays', props.noncurrentVersionDays],
    ] as const) {
      if (days !== undefined && (!Number.isInteger(days) || days < 1)) {
        throw new Error(`PipelineBuckets: ${name} must be a whole number of days >= 1, got ${days}`);
      }
    }
  }
}
