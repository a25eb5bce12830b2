/** The run report in the synthesized stack: its function, what it may touch, and where the event names it. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { BatchReportFunction, RunReportFunction } from '../../infra/report/report-function';
import { type AslState, resolveDefinition, resolveValue } from '../../localstack/embedded/definition';
import { definitionOf, synth } from '../infra/support';

describe('run report step (aws profile)', () => {
  const s = synth();
  const fnId = s.stack.getLogicalId(s.stack.runReport.function.node.defaultChild as never);

  it('writes to the artifacts bucket and reads the summaries of the features bucket', () => {
    // Act
    const env =
      (s.json.Resources[fnId].Properties?.Environment as { Variables: Record<string, unknown> } | undefined)
        ?.Variables ?? {};
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, resolveValue(s.json, v)]));

    // Assess
    expect(resolved).toMatchObject({ SUMMARY_URI: expect.stringMatching(/^s3:\/\/.+\/pipeline-runs$/) });
    expect(env.REPORT_BUCKET).toEqual({
      Ref: s.stack.getLogicalId(s.stack.buckets.artifacts.node.defaultChild as never),
    });
    expect(env.S3_ENDPOINT).toBeUndefined();
  });

  it('may put objects only under reports/ and read only the summary prefix', () => {
    // Act
    const policies = s.template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('RunReportWriteReportRole') }] },
    });
    const statements = Object.values(policies).flatMap(
      (p) => (p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]) ?? [],
    );
    const text = JSON.stringify(statements);

    // Assess
    expect(text).toContain('/reports/*');
    expect(text).toContain('/pipeline-runs/*');
    expect(text).toMatch(/s3:PutObject/);
    expect(text).not.toMatch(/s3:DeleteObject/);
  });

  it('puts the report location into the "ML Features Updated" event', () => {
    // Act
    const top = definitionOf(s).States;

    // Assess
    expect(top.PublishFeaturesUpdated).toMatchObject({
      Parameters: {
        Entries: [expect.objectContaining({ Detail: expect.objectContaining({ 'report.$': '$.report' }) })],
      },
    });
    expect(top.WriteRunReport).toMatchObject({
      Parameters: { 'runId.$': '$$.Execution.Name' },
      Next: 'PublishFeaturesUpdated',
    });
  });

  it('refuses a summary location that is not an S3 URI, naming the prop and the value', () => {
    // Act / Assess
    expect(
      () =>
        new RunReportFunction(s.stack, 'Bad', {
          features: s.stack.buckets.features,
          reports: s.stack.buckets.artifacts,
          summaryUri: 'https://example.org/runs',
        }),
    ).toThrow(/summaryUri must be an s3:\/\/ or s3a:\/\/ URI, got "https:\/\/example.org\/runs"/);
  });
});

describe('batch report step (aws profile with a GPU host)', () => {
  const s = synth({ batch: { host: { instanceId: 'i-0123456789abcdef0' } } });
  const batch = s.stack.vqeBatch;
  if (!batch?.reportFunction) throw new Error('the batch has no report function');
  const fnId = s.stack.getLogicalId(batch.reportFunction.node.defaultChild as never);
  const parent = resolveDefinition(s.json, s.stack.getLogicalId(batch.stateMachine.node.defaultChild as never))
    .States as Record<string, AslState & Record<string, any>>;

  it("reads the batch's run states where the batch keeps them, and the summaries", () => {
    // Act
    const env =
      (s.json.Resources[fnId].Properties?.Environment as { Variables: Record<string, unknown> } | undefined)
        ?.Variables ?? {};
    const resolved = Object.fromEntries(Object.entries(env).map(([k, v]) => [k, resolveValue(s.json, v)]));

    // Assess
    expect(resolved).toMatchObject({
      SUMMARY_URI: expect.stringMatching(/^s3:\/\/.+\/pipeline-runs$/),
      BATCH_STATE_PREFIX: batch.settings.statePrefix,
    });
    expect(env.BATCH_STATE_BUCKET).toEqual({
      Ref: s.stack.getLogicalId(s.stack.buckets.rawResults.node.defaultChild as never),
    });
    expect(env.REPORT_BUCKET).toEqual({
      Ref: s.stack.getLogicalId(s.stack.buckets.artifacts.node.defaultChild as never),
    });
  });

  it('may read the state prefix and the summaries and put only under reports/', () => {
    // Act
    const policies = s.template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: Match.stringLikeRegexp('ReportWriteBatchReportRole') }] },
    });
    const statements = Object.values(policies).flatMap(
      (p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    const puts = statements.filter((st) => [st.Action].flat().includes('s3:PutObject'));
    const text = JSON.stringify(statements);

    // Assess
    expect(text).toContain(`/${batch.settings.statePrefix}*`);
    expect(text).toContain('/pipeline-runs/*');
    expect(puts.map((st) => JSON.stringify(st.Resource))).toEqual([expect.stringContaining('/reports/*')]);
    expect(text).not.toMatch(/s3:DeleteObject/);
  });

  it('writes the page after the summary, puts it into "VQE Batch Finished", and never fails the batch', () => {
    // Assess
    expect(parent.SummarizeBatch.Next).toBe('WriteBatchReport');
    expect(parent.WriteBatchReport).toMatchObject({
      Parameters: { 'batchId.$': '$.plan.batch.batchId' },
      ResultPath: '$.report',
      Next: 'PublishBatchFinished',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.report', Next: 'PublishBatchFinished' }],
    });
    expect(parent.PublishBatchFinished.Parameters).toMatchObject({
      Entries: [expect.objectContaining({ Detail: expect.objectContaining({ 'report.$': '$.report' }) })],
    });
    expect(parent.BatchReport.Parameters).toMatchObject({ 'report.$': '$.report' });
  });

  it('writes a failure page only once the batch is planned, then fails as before', () => {
    // Act
    const catchTargets = new Set(
      ['PlanBatch', 'RunLanes', 'SummarizeBatch', 'PublishBatchFinished'].flatMap((name) =>
        (parent[name].Catch as { Next: string }[]).map((c) => c.Next),
      ),
    );

    // Assess
    expect([...catchTargets]).toEqual(['IsBatchPlanned']);
    expect(parent.IsBatchPlanned).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.plan.batch.batchId', IsPresent: true, Next: 'WriteBatchFailureReport' }],
      Default: 'BatchFailed',
    });
    expect(parent.WriteBatchFailureReport).toMatchObject({
      Parameters: { 'batchId.$': '$.plan.batch.batchId', 'failure.$': '$.failure' },
      ResultPath: '$.report',
      Next: 'BatchFailed',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.report', Next: 'BatchFailed' }],
    });
    expect(parent.BatchFailed).toEqual({ Type: 'Fail', ErrorPath: '$.failure.Error', CausePath: '$.failure.Cause' });
  });

  it('refuses a summary location that is not an S3 URI, naming the construct, the prop and the value', () => {
    // Act / Assess
    expect(
      () =>
        new BatchReportFunction(s.stack, 'BadBatchReport', {
          features: s.stack.buckets.features,
          reports: s.stack.buckets.artifacts,
          summaryUri: 'file:///tmp/runs',
          batchState: { bucket: s.stack.buckets.rawResults, prefix: 'vqe-batch/' },
        }),
    ).toThrow(/BatchReportFunction: summaryUri must be an s3:\/\/ or s3a:\/\/ URI, got "file:\/\/\/tmp\/runs"/);
  });
});
