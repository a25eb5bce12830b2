/** The run report in the synthesized stack: its function, what it may touch, and where the event names it. */
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { RunReportFunction } from '../../infra/report/report-function';
import { resolveValue } from '../../localstack/embedded/definition';
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
