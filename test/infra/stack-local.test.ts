/** The local profile: the same pipeline on a standalone Spark master and an S3-compatible store. */
import { describe, expect, it } from 'vitest';
import { PipelineSettings } from '../../lambdas/feature-pipeline/contract';
import { environmentOf, synth } from './support';

describe('local profile', () => {
  it('uses nothing LocalStack lacks: no EMR Serverless, no Glue, no deploy-time upload', () => {
    const { template } = synth({ profile: 'local' });

    for (const type of ['AWS::EMRServerless::Application', 'AWS::Glue::Database', 'Custom::CDKBucketDeployment']) {
      template.resourceCountIs(type, 0);
    }
    // The feature pipeline with the debounce of new objects, table maintenance, the R2 sync (to the
    // local stand-in) and the VQE batch with its chunk machine; the pipeline, table maintenance and
    // the R2 sync have a schedule each.
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 6);
    template.resourceCountIs('AWS::Scheduler::Schedule', 3);
  });

  it('names the buckets as the local data plane does', () => {
    const { template } = synth({ profile: 'local' });

    for (const name of ['raw-results', 'features', 'artifacts'])
      template.hasResourceProperties('AWS::S3::Bucket', { BucketName: name });
  });

  it('points the Lambdas at the standalone master and the S3 endpoint, path style', () => {
    const s = synth({
      profile: 'local',
      local: { sparkRestUrl: 'http://spark-master:6066', s3Endpoint: 'http://localstack:4566' },
    });
    const env = environmentOf(s, 'job-status');

    expect(env).toMatchObject({
      SPARK_BACKEND: 'standalone',
      SPARK_REST_URL: 'http://spark-master:6066',
      SPARK_MASTER_URL: 'spark://127.0.0.1:7077',
      S3_ENDPOINT: 'http://localstack:4566',
      S3_FORCE_PATH_STYLE: 'true',
      SPARK_ARTIFACTS_URI: '/opt/spark-jobs/',
    });
    expect(env.EMR_APPLICATION_ID).toBeUndefined();
  });

  it("submits with the cluster's own catalog settings and s3a URIs", () => {
    const settings = PipelineSettings.parse(
      JSON.parse(environmentOf(synth({ profile: 'local' }), 'submit-job').PIPELINE_SETTINGS),
    );

    expect(settings.sparkConf).toEqual({});
    expect(settings.rawUri).toBe('s3a://raw-results/experiments');
    expect(settings.summaryUri).toBe('s3a://features/pipeline-runs');
  });

  it('runs one three-core executor on the local worker unless the config names another shape', () => {
    const settingsOf = (context: Record<string, unknown>) =>
      PipelineSettings.parse(
        JSON.parse(environmentOf(synth({ profile: 'local', ...context }), 'submit-job').PIPELINE_SETTINGS),
      );

    expect(settingsOf({}).resources).toEqual({
      driverCores: 1,
      driverMemory: '1g',
      executorCores: 3,
      executorMemory: '1536m',
    });
    expect(settingsOf({ spark: { executorCores: 1 } }).resources.executorCores).toBe(1);
  });
});
