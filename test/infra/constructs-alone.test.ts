/**
 * Constructs built alone in a bare stack with stub inputs (a plain bucket, a plain secret), the way
 * aws-cdk-lib tests one construct: what each makes by itself, and that it brings the cdk-nag
 * acknowledgements of its own grants. The whole-app tests cover the wiring.
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { IConstruct } from 'constructs';
import { describe, expect, it } from 'vitest';
import { R2Sync } from '../../infra/r2-sync/r2-sync';
import { VqeBatch } from '../../infra/vqe-batch/vqe-batch';
import { unacknowledgedIam5 } from './support';

/** A bare stack; bundling is skipped (no test here looks into a bundle). */
function bareStack(): { app: App; stack: Stack } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  return { app, stack: new Stack(app, 'Test') };
}

const logicalId = (stack: Stack, construct: IConstruct) => stack.getLogicalId(construct.node.defaultChild as never);

describe('R2Sync alone', () => {
  function r2Sync() {
    const { app, stack } = bareStack();
    const source = new s3.Bucket(stack, 'Source');
    const secret = new secretsmanager.Secret(stack, 'Token');
    const sync = new R2Sync(stack, 'Sync', {
      stateMachineName: 'sync-test',
      source: { bucket: source, prefix: 'warehouse/ns/' },
      destination: {
        endpoint: 'https://r2.example.org',
        region: 'auto',
        bucket: 'mirror',
        prefix: 'features/',
        credentialsSecret: secret,
      },
      tables: ['ml_run_summary'],
    });
    return { app, stack, source, secret, sync, template: Template.fromStack(stack) };
  }

  it("makes one traced, fully logged state machine and its two functions, the sync at Lambda's 15 minutes", () => {
    // Act
    const { template } = r2Sync();

    // Assess
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 1);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'sync-test',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL' }),
    });
    template.resourceCountIs('AWS::Lambda::Function', 2);
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 1024,
      Timeout: 900,
      Description: 'quantum pipeline: r2-sync/sync-table',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 256,
      Timeout: 60,
      Description: 'quantum pipeline: r2-sync/health-check',
    });
  });

  it('lets the functions read the token secret and the source prefix, and the health check write its probes only', () => {
    // Act
    const { stack, template, source, secret, sync } = r2Sync();
    const bucketArn = { 'Fn::GetAtt': [logicalId(stack, source), 'Arn'] };
    const statementsOf = (fn: typeof sync.healthCheck) =>
      Object.values(
        template.findResources('AWS::IAM::Policy', {
          Properties: { Roles: [{ Ref: logicalId(stack, fn.role!) }] },
        }),
      ).flatMap(
        (policy) =>
          policy.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>,
      );
    const writes = (fn: typeof sync.healthCheck) =>
      statementsOf(fn)
        .filter((statement) =>
          ([] as string[]).concat(statement.Action).some((action) => /^s3:(Put|Delete)/.test(action)),
        )
        .map((statement) => statement.Resource);

    // Assess
    for (const fn of [sync.healthCheck, sync.syncTable]) {
      expect(statementsOf(fn)).toContainEqual(
        expect.objectContaining({
          Action: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
          Resource: { Ref: logicalId(stack, secret) },
        }),
      );
      expect(statementsOf(fn)).toContainEqual(
        expect.objectContaining({
          Action: expect.arrayContaining(['s3:GetObject*', 's3:List*']),
          Resource: [bucketArn, { 'Fn::Join': ['', [bucketArn, '/warehouse/ns/*']] }],
        }),
      );
    }
    const probes = { 'Fn::Join': ['', [bucketArn, '/warehouse/ns/.qp-sync-health/*']] };
    expect(writes(sync.healthCheck)).toEqual([probes, probes]);
    expect(writes(sync.syncTable)).toEqual([]);
  });

  it('brings the acknowledgements of its own wildcard grants', () => {
    // Act + Assess
    expect(unacknowledgedIam5(r2Sync().app)).toEqual([]);
  });
});

describe('VqeBatch alone', () => {
  function vqeBatch() {
    const { app, stack } = bareStack();
    const batch = new VqeBatch(stack, 'Batch', {
      stateMachineName: 'batch-test',
      stateBucket: new s3.Bucket(stack, 'State'),
      launcher: { kind: 'local' },
      moleculesFiles: { gpu1: 'gpu1.json', gpu2: 'gpu2.json', cpu: 'cpu.json' },
      runTimeout: Duration.minutes(10),
    });
    return { app, stack, batch, template: Template.fromStack(stack) };
  }

  it('makes the parent and the chunk machine and five functions', () => {
    // Act
    const { template } = vqeBatch();

    // Assess
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'batch-test' });
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'batch-test-chunk' });
    template.resourceCountIs('AWS::Lambda::Function', 5);
  });

  it('lets the chunk machine invoke only the start-run and check-run functions, the parent only the others', () => {
    // Act
    const { stack, template, batch } = vqeBatch();
    const invokedBy = (machine: typeof batch.stateMachine) =>
      Object.values(
        template.findResources('AWS::IAM::Policy', {
          Properties: { Roles: [{ Ref: logicalId(stack, machine.role) }] },
        }),
      )
        .flatMap(
          (policy) => policy.Properties.PolicyDocument.Statement as Array<{ Action: unknown; Resource: unknown[] }>,
        )
        .filter((statement) => statement.Action === 'lambda:InvokeFunction')
        .map((statement) => statement.Resource[0]);
    const arnOf = (name: keyof typeof batch.functions) => ({
      'Fn::GetAtt': [logicalId(stack, batch.functions[name]), 'Arn'],
    });

    // Assess
    expect(invokedBy(batch.chunkStateMachine)).toEqual([arnOf('start-run'), arnOf('check-run')]);
    expect(invokedBy(batch.stateMachine)).toEqual([arnOf('plan'), arnOf('image-build'), arnOf('summary')]);
  });

  it('grants no SSM action with the local launcher', () => {
    // Act
    const { template } = vqeBatch();

    // Assess
    expect(JSON.stringify(template.findResources('AWS::IAM::Policy'))).not.toContain('ssm:');
  });

  it("fits 100 runs of ten minutes in a chunk and bounds the chunk's time by them", () => {
    // Act
    const { batch, template } = vqeBatch();

    // Assess: 9 + 11 polls x 10 events = 119 events per run; the default chunk is capped at 100 runs
    expect(batch.settings.chunkSize).toBe(100);
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'batch-test-chunk',
      DefinitionString: Match.objectLike({
        'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp(`"TimeoutSeconds":${100 * (600 + 120) + 3600}`)])],
      }),
    });
  });

  it('brings the acknowledgements of its own wildcard grants', () => {
    // Act + Assess
    expect(unacknowledgedIam5(vqeBatch().app)).toEqual([]);
  });
});
