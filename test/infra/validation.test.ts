/** Every construct validation throws, naming the prop and the bad value. */
import { Duration, Stack } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../infra/config';
import { FeaturePipeline } from '../../infra/feature-pipeline/feature-pipeline';
import { SparkJobFunctions } from '../../infra/feature-pipeline/spark-job-functions';
import { PipelineAlerts } from '../../infra/platform/alerts';
import { PipelineBuckets } from '../../infra/platform/storage';
import { PipelineSchedule } from '../../infra/platform/triggers';

const policy = {
  retries: 1,
  retryIntervalSeconds: 60,
  backoffRate: 2,
  maxRetryDelaySeconds: 600,
  timeoutSeconds: 600,
  slaSeconds: 600,
};

function machine(stack: Stack): sfn.StateMachine {
  return new sfn.StateMachine(stack, 'M', {
    definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P')),
  });
}

describe('construct validation', () => {
  it('PipelineBuckets: retention days', () => {
    expect(() => new PipelineBuckets(new Stack(), 'B', { quarantineRetentionDays: 0 })).toThrow(
      /quarantineRetentionDays must be .* got 0/,
    );
    expect(() => new PipelineBuckets(new Stack(), 'B', { logRetentionDays: 1.5 })).toThrow(
      /logRetentionDays must be .* got 1.5/,
    );
  });

  it('SparkJobFunctions: state machine name', () => {
    const stack = new Stack();
    const config = loadConfig({ profile: 'local' });
    expect(
      () =>
        new SparkJobFunctions(stack, 'F', {
          backend: {
            kind: 'standalone',
            restUrl: 'http://x:6066',
            masterUrl: 'spark://x:7077',
            artifactsDir: '/a',
            python: 'python3',
            s3Endpoint: 'http://x',
          },
          settings: {
            catalog: 'c',
            namespace: 'n',
            rawUri: 's3a://b/p',
            summaryUri: 's3a://b/s',
            sparkConf: {},
            resources: { driverCores: 1, driverMemory: '1g', executorCores: 1, executorMemory: '1g' },
            extraSubmitArgs: [],
            jobTimeoutSeconds: { features: 1, 'ml-features': 1 },
            mlDefaults: { ...config.mlDefaults },
          },
          features: new s3.Bucket(stack, 'B'),
          stateMachineName: 'has spaces',
        }),
    ).toThrow(/stateMachineName must be 1-80 letters, digits, - or _, got "has spaces"/);
  });

  it('FeaturePipeline: poll interval', () => {
    expect(
      () =>
        new FeaturePipeline(new Stack(), 'P', {
          stateMachineName: 'x',
          functions: {} as never,
          featuresJob: policy,
          mlFeaturesJob: policy,
          pollIntervalSeconds: 2,
        }),
    ).toThrow(/pollIntervalSeconds must be a whole number >= 5, got 2/);
  });

  it('PipelineSchedule: expression', () => {
    const stack = new Stack();
    expect(() => new PipelineSchedule(stack, 'S', { stateMachine: machine(stack), expression: 'every day' })).toThrow(
      /expression must be cron\(\.\.\.\), rate\(\.\.\.\) or at\(\.\.\.\), got "every day"/,
    );
  });

  it('PipelineAlerts: job SLAs, poll interval and email', () => {
    const stack = new Stack();
    const stateMachine = machine(stack);
    const jobSlaSeconds = { features: 600, mlFeatures: 600 };
    expect(
      () => new PipelineAlerts(stack, 'A', { stateMachine, jobSlaSeconds: { features: 600, mlFeatures: 10 } }),
    ).toThrow('PipelineAlerts: jobSlaSeconds.mlFeatures must be a whole number >= 60, got 10');
    expect(
      () => new PipelineAlerts(stack, 'A2', { stateMachine, jobSlaSeconds: { features: 90.5, mlFeatures: 600 } }),
    ).toThrow('PipelineAlerts: jobSlaSeconds.features must be a whole number >= 60, got 90.5');
    expect(
      () => new PipelineAlerts(stack, 'A3', { stateMachine, jobSlaSeconds, jobPollInterval: Duration.millis(1500) }),
    ).toThrow('PipelineAlerts: jobPollInterval must be whole seconds of 1 or more, got 1 second 500 millis');
    expect(() => new PipelineAlerts(stack, 'A4', { stateMachine, slaSeconds: 8100 } as never)).toThrow(
      'PipelineAlerts: slaSeconds (8100) is gone: give jobSlaSeconds {features, mlFeatures}, one alarm per job',
    );
    expect(() => new PipelineAlerts(stack, 'B', { stateMachine, jobSlaSeconds, email: 'nobody' })).toThrow(
      /email "nobody" is not an email address/,
    );
  });
});
