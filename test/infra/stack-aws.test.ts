/** The aws profile: every property that matters, asserted on a fresh stack per test. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { PipelineSettings } from '../../lambdas/feature-pipeline/contract';
import { environmentOf, FAKE_CODE_VERSION, fakeSparkArtifacts, synth } from './support';

describe('aws profile: storage', () => {
  it('makes four private, encrypted, TLS-only buckets; three log to the fourth', () => {
    const { template } = synth();

    template.resourceCountIs('AWS::S3::Bucket', 4);
    template.allResourcesProperties('AWS::S3::Bucket', {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
    });
    expect(
      Object.keys(
        template.findResources('AWS::S3::Bucket', { Properties: { LoggingConfiguration: Match.anyValue() } }),
      ),
    ).toHaveLength(3);
    template.resourcePropertiesCountIs(
      'AWS::S3::BucketPolicy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      },
      4,
    );
  });

  it('expires quarantined raw objects after 90 days and EMR logs after 30', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Prefix: 'quarantine/', ExpirationInDays: 90, Status: 'Enabled' })]),
      },
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Prefix: 'emr-logs/', ExpirationInDays: 30 })]),
      },
    });
  });

  it('retains buckets by default and deletes them with their objects when removalPolicy is destroy', () => {
    synth().template.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Retain' });
    const destroyed = synth({ removalPolicy: 'destroy' }).template;
    destroyed.allResources('AWS::S3::Bucket', { DeletionPolicy: 'Delete' });
    destroyed.resourceCountIs('Custom::S3AutoDeleteObjects', 4);
  });
});

describe('aws profile: Spark compute', () => {
  it('runs an EMR Serverless Spark application on emr-spark-8.0.0 with auto start/stop and a capacity cap', () => {
    synth({ emr: { idleTimeoutMinutes: 20, maximumCpu: '8 vCPU' } }).template.hasResourceProperties(
      'AWS::EMRServerless::Application',
      {
        Type: 'SPARK',
        ReleaseLabel: 'emr-spark-8.0.0',
        AutoStartConfiguration: { Enabled: true },
        AutoStopConfiguration: { Enabled: true, IdleTimeoutMinutes: 20 },
        MaximumCapacity: { Cpu: '8 vCPU', Memory: '64 GB', Disk: '200 GB' },
      },
    );
  });

  it('gives the job role only its buckets and the one Glue database', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'emr-serverless.amazonaws.com' } })],
      },
    });
    template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'quantum_features' } });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'IcebergGlueCatalog',
            Action: ['glue:GetDatabase', 'glue:GetTable', 'glue:GetTables', 'glue:CreateTable', 'glue:UpdateTable'],
          }),
        ]),
      },
    });
    // Every action of every statement, whether the statement lists one action or several.
    const actions = Object.values(template.findResources('AWS::IAM::Policy'))
      .flatMap((policy) => policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[] }>)
      .flatMap((statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]));
    expect(actions.length).toBeGreaterThan(10);
    expect(actions.filter((action) => /^(s3|glue|emr-serverless):\*$/.test(action) || action === '*')).toEqual([]);
  });

  it('uploads the packaged jobs under their version, keeping earlier versions, and runs them from there', () => {
    const s = synth();

    s.template.hasResourceProperties('Custom::CDKBucketDeployment', {
      DestinationBucketKeyPrefix: `spark-jobs/${FAKE_CODE_VERSION}/`,
      Prune: true,
      RetainOnDelete: true,
    });
    expect(environmentOf(s, 'submit-job').SPARK_ARTIFACTS_URI).toMatch(
      new RegExp(`/spark-jobs/${FAKE_CODE_VERSION}/$`),
    );
    // After the upload, a deploy-time prune keeps the last five versions, this one among them.
    s.template.hasResourceProperties('Custom::JobCodeRetention', {
      Prefix: 'spark-jobs/',
      Keep: 5,
      CurrentVersion: FAKE_CODE_VERSION,
    });
    const [retention] = Object.values(s.template.findResources('Custom::JobCodeRetention'));
    const [upload] = Object.keys(s.template.findResources('Custom::CDKBucketDeployment'));
    expect(retention.DependsOn).toContain(upload);
  });

  it('rolls back by config: runs an earlier version from the bucket and uploads nothing', () => {
    const s = synth({ spark: { codeVersion: 'fedcba9876543210' } });

    s.template.resourceCountIs('Custom::CDKBucketDeployment', 0);
    s.template.hasResourceProperties('Custom::JobCodeRetention', { CurrentVersion: 'fedcba9876543210' });
    expect(environmentOf(s, 'submit-job').SPARK_ARTIFACTS_URI).toMatch(/\/spark-jobs\/fedcba9876543210\/$/);
  });

  it('keeps as many code versions as configured, and refuses fewer than one, naming the field', () => {
    synth({ spark: { codeVersionsKept: 2 } }).template.hasResourceProperties('Custom::JobCodeRetention', { Keep: 2 });
    expect(() => synth({ spark: { codeVersionsKept: 0 } })).toThrow(/spark\.codeVersionsKept/);
  });

  it('refuses a job code retention without a version to keep or a folder prefix, naming the prop', async () => {
    const { JobCodeRetention } = await import('../../infra/feature-pipeline/job-code-retention');
    const { Stack } = await import('aws-cdk-lib');
    const { Bucket } = await import('aws-cdk-lib/aws-s3');
    const stack = new Stack();
    const artifacts = new Bucket(stack, 'B');
    const props = { artifacts, prefix: 'spark-jobs/', currentVersion: FAKE_CODE_VERSION };

    expect(() => new JobCodeRetention(stack, 'A', { ...props, versionsKept: 0 })).toThrow(
      'JobCodeRetention: versionsKept must be a whole number >= 1, got 0',
    );
    expect(() => new JobCodeRetention(stack, 'B2', { ...props, currentVersion: 'v2' })).toThrow(
      'JobCodeRetention: currentVersion must be 16 hex digits, got "v2"',
    );
    expect(() => new JobCodeRetention(stack, 'C', { ...props, prefix: 'spark-jobs' })).toThrow(
      'JobCodeRetention: prefix must end in "/", got "spark-jobs"',
    );
  });

  it('refuses a code version that is not 16 hex digits, naming the field and the value', () => {
    expect(() => synth({ spark: { codeVersion: 'v1.2' } })).toThrow(/spark\.codeVersion.*v1\.2|v1\.2.*codeVersion/s);
  });

  it('refuses to deploy without the packaged jobs', async () => {
    const { SparkCompute } = await import('../../infra/feature-pipeline/spark-compute');
    const { Stack } = await import('aws-cdk-lib');
    const { Bucket } = await import('aws-cdk-lib/aws-s3');
    const stack = new Stack();
    const bucket = new Bucket(stack, 'B');

    expect(
      () =>
        new SparkCompute(stack, 'S', {
          rawResults: bucket,
          features: bucket,
          artifacts: bucket,
          jobCode: { sourceDir: '/nonexistent', builtVersion: FAKE_CODE_VERSION },
        }),
    ).toThrow(/jobCode\.sourceDir \/nonexistent lacks feature_processing\.py.*npm run build:spark/);
    expect(
      () =>
        new SparkCompute(stack, 'V', {
          rawResults: bucket,
          features: bucket,
          artifacts: bucket,
          jobCode: { sourceDir: fakeSparkArtifacts(), builtVersion: FAKE_CODE_VERSION, runVersion: 'latest' },
        }),
    ).toThrow('SparkCompute: jobCode.runVersion must be 16 hex digits, got "latest"');
    expect(
      () =>
        new SparkCompute(stack, 'T', {
          rawResults: bucket,
          features: bucket,
          artifacts: bucket,
          idleTimeoutMinutes: 0,
        }),
    ).toThrow(/idleTimeoutMinutes must be >= 1, got 0/);
  });
});

describe('aws profile: Lambda steps', () => {
  it("bundles ten Node 24 ARM functions (six steps, the run report, the debounce of new objects, the job code retention, table maintenance's validation) with tracing, each logging to its own group", () => {
    const { template } = synth();

    template.resourcePropertiesCountIs(
      'AWS::Lambda::Function',
      {
        Runtime: 'nodejs24.x',
        Architectures: ['arm64'],
        TracingConfig: { Mode: 'Active' },
        Handler: 'index.handler',
        LoggingConfig: { LogGroup: Match.anyValue() },
      },
      10,
    );
  });

  it('configures the EMR Serverless backend and the job settings of SPEC section 4', () => {
    const s = synth();
    const env = environmentOf(s, 'submit-job');

    expect(env.SPARK_BACKEND).toBe('emr-serverless');
    expect(env.SPARK_ARTIFACTS_URI).toMatch(/^s3:\/\/.+\/spark-jobs\/[0-9a-f]{16}\/$/);
    expect(env.EMR_APPLICATION_ID).toBeTruthy();
    const settings = PipelineSettings.parse(JSON.parse(env.PIPELINE_SETTINGS));
    expect(settings.resources).toEqual({
      driverCores: 1,
      driverMemory: '1g',
      executorCores: 1,
      executorMemory: '1536m',
    });
    expect(settings.jobTimeoutSeconds).toEqual({ features: 7200, 'ml-features': 3600, maintenance: 7200 });
    expect(settings.sparkConf).toMatchObject({
      'spark.sql.catalog.quantum_catalog.type': 'glue',
      'spark.serializer': 'org.apache.spark.serializer.KryoSerializer',
      'spark.sql.shuffle.partitions': '8',
    });
    expect(settings.rawUri).toMatch(/^s3:\/\/[^/]+\/experiments$/);
  });

  it('lets only the submit function start job runs and pass the job role (see hardening.test.ts for the rest)', () => {
    const { template } = synth();

    template.resourcePropertiesCountIs(
      'AWS::IAM::Policy',
      {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Action: 'emr-serverless:StartJobRun' }),
            Match.objectLike({ Action: 'iam:PassRole' }),
          ]),
        },
      },
      1,
    );
  });

  it('lets the run-slot function list the executions of its own state machine and table maintenance only', () => {
    synth().template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Sid: 'ListOwnExecutions',
            Action: 'states:ListExecutions',
            Resource: [
              { 'Fn::Join': ['', Match.arrayWith([':stateMachine:QuantumPipeline-feature-pipeline'])] },
              { 'Fn::Join': ['', Match.arrayWith([':stateMachine:QuantumPipeline-table-maintenance'])] },
            ],
          }),
        ]),
      },
    });
  });
});
