/** Athena over the feature tables: the workgroup and saved queries alone, its grant, and its place in each profile. */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { FeatureQueries, type FeatureQueriesProps } from '../../infra/reading/feature-queries';
import { resolveValue } from '../../localstack/embedded/definition';
import { synth } from './support';

function alone(props: Partial<FeatureQueriesProps> = {}) {
  const stack = new Stack(new App(), 'Test');
  const queries = new FeatureQueries(stack, 'Queries', {
    database: 'quantum_features',
    features: new s3.Bucket(stack, 'Features'),
    results: new s3.Bucket(stack, 'Results'),
    ...props,
  });
  return { stack, queries };
}

describe('FeatureQueries alone', () => {
  it('makes an engine-3 workgroup that enforces encrypted results under its prefix and a cost cutoff', () => {
    // Act
    const { stack } = alone();

    // Assess
    Template.fromStack(stack).hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'Test-features',
      RecursiveDeleteOption: true,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        ResultConfiguration: {
          OutputLocation: {
            'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^Results') }, '/athena-results/']],
          },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      },
    });
  });

  it('saves its queries in the workgroup, over the Glue database, after the workgroup exists', () => {
    // Act
    const { stack } = alone();

    // Assess
    const template = Template.fromStack(stack);
    const saved = template.findResources('AWS::Athena::NamedQuery');
    expect(Object.keys(saved)).toHaveLength(4);
    const workGroupId = Object.keys(template.findResources('AWS::Athena::WorkGroup'))[0];
    for (const [id, resource] of Object.entries(saved)) {
      expect(resource.Properties, id).toMatchObject({ Database: 'quantum_features', WorkGroup: 'Test-features' });
      expect(resource.DependsOn, id).toContain(workGroupId);
      expect(resource.Properties.QueryString, id).toMatch(
        /FROM "quantum_features"\."ml_(run_summary|iteration_features)/,
      );
    }
    const sql = Object.values(saved).map((resource) => resource.Properties.QueryString as string);
    expect(sql.some((text) => text.includes('FOR TIMESTAMP AS OF'))).toBe(true);
    expect(sql.some((text) => text.includes('"ml_run_summary$history"'))).toBe(true);
  });

  it('grants queries in its workgroup only, Glue reads of its database, the warehouse read and its results', () => {
    // Prepare
    const { stack, queries } = alone();
    const analyst = new iam.Role(stack, 'Analyst', { assumedBy: new iam.AccountRootPrincipal() });

    // Act
    queries.grantQuery(analyst);

    // Assess
    const statements = Object.values(Template.fromStack(stack).findResources('AWS::IAM::Policy')).flatMap(
      (policy) => policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[],
    );
    const json = JSON.stringify(statements);
    const athena = statements.find((s) => [s.Action].flat().includes('athena:StartQueryExecution'));
    expect(JSON.stringify(athena?.Resource)).toContain(':workgroup/Test-features');
    const glue = statements.find((s) => [s.Action].flat().includes('glue:GetTable'));
    expect(JSON.stringify(glue?.Resource)).toContain(':table/quantum_features/*');
    expect(JSON.stringify(glue?.Resource)).not.toContain(':table/*');
    expect(json).toContain('/athena-results/*');
    expect(json).not.toContain('glue:CreateTable');
  });

  it.each([
    [{ database: 'Quantum-Features' }, /database must be a Glue database name .*got 'Quantum-Features'/],
    [{ resultsPrefix: 'athena-results' }, /resultsPrefix must end in \/ .*got 'athena-results'/],
    [{ workGroupName: 'bad name' }, /workGroupName must be 1-128 characters .*got 'bad name'/],
    [
      { bytesScannedCutoffPerQuery: 1000 },
      /bytesScannedCutoffPerQuery must be an integer of at least 10000000, got 1000/,
    ],
  ])('refuses %j, naming the prop and the value', (props, message) => {
    expect(() => alone(props)).toThrow(message);
  });
});

describe('FeatureQueries in the stack', () => {
  it('is deployed by the aws profile over the catalog database, with results in the artifacts bucket', () => {
    // Act
    const { stack, template, json } = synth({ profile: 'aws', alertEmail: 'team@example.org' });

    // Assess
    template.resourceCountIs('AWS::Athena::WorkGroup', 1);
    const [workGroup] = Object.values(template.findResources('AWS::Athena::WorkGroup'));
    const output = resolveValue(json, workGroup.Properties.WorkGroupConfiguration.ResultConfiguration.OutputLocation);
    const artifacts = resolveValue(json, {
      Ref: stack.getLogicalId(stack.buckets.artifacts.node.defaultChild as never),
    });
    expect(output).toBe(`s3://${artifacts}/athena-results/`);
    template.allResourcesProperties('AWS::Athena::NamedQuery', { Database: 'quantum_features' });
    const databaseId = stack.getLogicalId(stack.compute?.database as never);
    for (const resource of Object.values(template.findResources('AWS::Athena::NamedQuery'))) {
      expect(resource.DependsOn).toContain(databaseId);
    }
  });

  it('is left out of the local profile, which has no Glue', () => {
    const { template } = synth({ profile: 'local' });

    template.resourceCountIs('AWS::Athena::WorkGroup', 0);
    template.resourceCountIs('AWS::Athena::NamedQuery', 0);
  });
});
