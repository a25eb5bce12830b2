/** The r2-sync part of the stack: when it is deployed, its settings, IAM, state machine, triggers and validations. */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../infra/config';
import { R2SyncTriggers } from '../../infra/platform/triggers';
import { R2Sync, type R2SyncProps } from '../../infra/r2-sync/r2-sync';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import { SUMMARY_EVENT_DETAIL_TYPE, SUMMARY_EVENT_SOURCE } from '../../lambdas/feature-pipeline/contract';
import { resolveDefinition, resolveValue } from '../../localstack/embedded/definition';
import { type Synthesized, synth } from './support';

const ACCOUNT = '0123456789abcdef0123456789abcdef';

function syncSettingsOf(s: Synthesized): Record<string, any> {
  const id = s.stack.getLogicalId(s.stack.r2Sync!.syncTable.node.defaultChild as never);
  const variables =
    (s.json.Resources[id].Properties?.Environment as { Variables: Record<string, unknown> } | undefined)?.Variables ??
    {};
  return JSON.parse(resolveValue(s.json, variables.SYNC_SETTINGS));
}

function syncDefinition(s: Synthesized) {
  return resolveDefinition(s.json, s.stack.getLogicalId(s.stack.r2Sync!.stateMachine.node.defaultChild as never));
}

describe('when the R2 sync is deployed', () => {
  it('is left out on AWS until an R2 account is configured', () => {
    const s = synth();

    expect(s.stack.r2Sync).toBeUndefined();
    // The feature pipeline, the debounce of new objects and table maintenance.
    s.template.resourceCountIs('AWS::StepFunctions::StateMachine', 3);
  });

  it('mirrors to https://<account>.r2.cloudflarestorage.com, region auto, from the Glue warehouse folder', () => {
    const s = synth({ r2: { accountId: ACCOUNT } });

    s.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'QuantumPipeline-r2-sync',
    });
    expect(syncSettingsOf(s)).toMatchObject({
      source: { prefix: 'warehouse/quantum_features.db/', forcePathStyle: false },
      destination: {
        endpoint: `https://${ACCOUNT}.r2.cloudflarestorage.com`,
        region: 'auto',
        bucket: 'qp-data',
        prefix: 'features/',
        forcePathStyle: true,
      },
      tables: ['ml_iteration_features', 'ml_run_summary'],
      transfers: 8,
      checkers: 4,
    });
  });

  it('is deployed by the local profile against the local stand-in bucket', () => {
    const s = synth({ profile: 'local' });

    expect(syncSettingsOf(s)).toMatchObject({
      source: {
        bucket: 'features',
        prefix: 'warehouse/quantum_features/',
        endpoint: 'http://127.0.0.1:3900',
        region: 'garage',
      },
      destination: { endpoint: 'http://127.0.0.1:3900', region: 'garage', bucket: 'qp-data' },
    });
  });

  it('can be switched off on the local profile and takes transfer settings from the config', () => {
    expect(synth({ profile: 'local', r2: { enabled: false } }).stack.r2Sync).toBeUndefined();
    expect(
      syncSettingsOf(synth({ profile: 'local', r2: { transfers: 16, checkers: 2, tables: ['ml_run_summary'] } })),
    ).toMatchObject({ transfers: 16, checkers: 2, tables: ['ml_run_summary'] });
  });
});

describe('R2 sync permissions', () => {
  const s = synth({ r2: { accountId: ACCOUNT } });
  const policyOf = (fn: 'healthCheck' | 'syncTable') => {
    const roleId = s.stack.getLogicalId(s.stack.r2Sync![fn].role!.node.defaultChild as never);
    const policies = Object.values(s.json.Resources).filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' && JSON.stringify((r.Properties as { Roles: unknown }).Roles).includes(roleId),
    );
    return JSON.stringify(policies.map((p) => p.Properties));
  };

  it("lets both functions read the R2 token secret and the tables' prefix only", () => {
    for (const fn of ['healthCheck', 'syncTable'] as const) {
      const policy = policyOf(fn);
      expect(policy).toContain('secretsmanager:GetSecretValue');
      expect(policy).toContain(':secret:quantum-pipeline/r2-credentials-??????');
      expect(policy).toContain('/warehouse/quantum_features.db/*');
      expect(policy).not.toMatch(
        /"Resource":\[?\{"Fn::Join":\["",\[\{"Fn::GetAtt":\["BucketsFeatures[0-9A-F]+","Arn"\]\},"\/\*"\]\]\}/,
      );
    }
  });

  it('lets only the health check write, and only under the probe prefix', () => {
    expect(policyOf('healthCheck')).toContain('/warehouse/quantum_features.db/.qp-sync-health/*');
    expect(policyOf('healthCheck')).toContain('s3:PutObject');
    expect(policyOf('syncTable')).not.toContain('s3:PutObject');
    expect(policyOf('syncTable')).not.toContain('s3:DeleteObject');
  });
});

describe('R2 sync state machine', () => {
  const s = synth({ r2: { accountId: ACCOUNT } });
  const definition = syncDefinition(s);
  const states = definition.States as Record<string, any>;

  it('checks health, maps over the requested tables two at a time, then publishes its summary', () => {
    expect(definition.StartAt).toBe('CheckHealth');
    expect(states.CheckHealth.Next).toBe('SyncTables');
    expect(states.SyncTables).toMatchObject({
      Type: 'Map',
      ItemsPath: '$.run.tables',
      MaxConcurrency: 2,
      Next: 'PublishSyncCompleted',
    });
    expect(states.PublishSyncCompleted.Parameters.Entries[0]).toMatchObject({
      Source: 'quantum-pipeline.r2-sync',
      DetailType: 'R2 Sync Completed',
    });
  });

  it("loops a table's sync until it reports complete, with a bound on the invocations", () => {
    const inner = states.SyncTables.ItemProcessor.States;
    expect(inner.SyncTable.Next).toBe('CarryProgress');
    expect(inner.IsTableSynced.Choices).toEqual([
      { Variable: '$.progress.complete', BooleanEquals: true, Next: 'TableSynced' },
      { Variable: '$.progress.invocations', NumericGreaterThanEquals: 50, Next: 'TableSyncTooLong' },
    ]);
    expect(inner.IsTableSynced.Default).toBe('SyncTable');
  });

  it('retries a table sync with failed copies (it resumes), and sends every failure to one Fail state', () => {
    const inner = states.SyncTables.ItemProcessor.States;
    expect(inner.SyncTable.Retry).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          ErrorEquals: ['SyncIncompleteError', 'SyncEndpointError', 'Sandbox.Timedout'],
          IntervalSeconds: 60,
          BackoffRate: 2,
          MaxAttempts: 3,
        }),
      ]),
    );
    for (const name of ['CheckHealth', 'SyncTables', 'PublishSyncCompleted']) {
      expect(states[name].Catch).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'SyncFailed' },
      ]);
    }
    expect(states.SyncFailed.Type).toBe('Fail');
  });

  it('never retries a delete-guard refusal: it goes to SyncFailed (and the failed-execution alert) at once', () => {
    // Prepare
    const inner = states.SyncTables.ItemProcessor.States;
    const retried = (inner.SyncTable.Retry as { ErrorEquals: string[] }[]).flatMap((retry) => retry.ErrorEquals);

    // Assess
    expect(ERROR_NAMES.syncDeleteGuard).toBe('SyncDeleteGuardError');
    expect(retried).not.toContain(ERROR_NAMES.syncDeleteGuard);
    expect(retried).not.toContain('States.ALL');
    expect(inner.SyncTable.Catch).toBeUndefined();
    expect(states.SyncTables.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'SyncFailed' },
    ]);
  });
});

describe('R2 sync triggers and alerts', () => {
  it('starts on "ML Features Updated" when job 2 changed the tables, with input {"trigger":"features-updated"}', () => {
    synth({ r2: { accountId: ACCOUNT } }).template.hasResourceProperties('AWS::Events::Rule', {
      State: 'ENABLED',
      EventPattern: {
        source: [SUMMARY_EVENT_SOURCE],
        'detail-type': [SUMMARY_EVENT_DETAIL_TYPE],
        detail: { mlFeatures: { status: ['succeeded'] } },
      },
      Targets: [
        Match.objectLike({
          Input: '{"trigger":"features-updated"}',
          Arn: { Ref: Match.stringLikeRegexp('^R2SyncStateMachine') },
        }),
      ],
    });
  });

  it('deploys the event rule disabled when switched off, and its schedule off unless enabled', () => {
    const off = synth({ r2: { accountId: ACCOUNT, onFeaturesUpdated: false } }).template;
    off.hasResourceProperties('AWS::Events::Rule', {
      State: 'DISABLED',
      EventPattern: Match.objectLike({ 'detail-type': [SUMMARY_EVENT_DETAIL_TYPE], detail: Match.anyValue() }),
    });
    off.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 4 * * ? *)',
      State: 'DISABLED',
    });
    synth({
      r2: { accountId: ACCOUNT, schedule: { enabled: true, expression: 'rate(1 hour)' } },
    }).template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'rate(1 hour)',
      State: 'ENABLED',
      Target: Match.objectLike({ Input: '{"trigger":"schedule"}' }),
    });
  });

  it('alerts on failed, timed-out and aborted sync executions', () => {
    synth({ r2: { accountId: ACCOUNT } }).template.hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        source: ['aws.states'],
        'detail-type': ['Step Functions Execution Status Change'],
        detail: {
          status: ['FAILED', 'TIMED_OUT', 'ABORTED'],
          stateMachineArn: [{ Ref: Match.stringLikeRegexp('^R2SyncStateMachine') }],
        },
      },
    });
  });
});

describe('R2 sync validation', () => {
  function construct(overrides: Partial<R2SyncProps>): () => R2Sync {
    return () => {
      const stack = new Stack(new App(), 'Test');
      return new R2Sync(stack, 'Sync', {
        stateMachineName: 'test-r2-sync',
        source: { bucket: new s3.Bucket(stack, 'Features'), prefix: 'warehouse/ns/' },
        destination: {
          endpoint: `https://${ACCOUNT}.r2.cloudflarestorage.com`,
          region: 'auto',
          bucket: 'qp-data',
          prefix: 'features/',
          credentialsSecret: secretsmanager.Secret.fromSecretNameV2(stack, 'Token', 'token'),
        },
        tables: ['ml_run_summary'],
        ...overrides,
      });
    };
  }

  it.each([
    [{ stateMachineName: 'bad name' }, 'R2Sync: stateMachineName must be 1-80 letters, digits, - or _, got "bad name"'],
    [{ maxInvocationsPerTable: 0 }, 'R2Sync: maxInvocationsPerTable must be a whole number from 1 to 1000, got 0'],
    [{ transfers: 0 }, /R2Sync: invalid settings: transfers: /],
    [{ tables: [] }, /R2Sync: invalid settings: tables: /],
    [{ maxDeleteFraction: 1.5 }, 'R2Sync: maxDeleteFraction must be a number from 0 to 1, got 1.5'],
    [{ maxDeleteFraction: -0.1 }, 'R2Sync: maxDeleteFraction must be a number from 0 to 1, got -0.1'],
    [{ maxDeleteFraction: Number.NaN }, 'R2Sync: maxDeleteFraction must be a number from 0 to 1, got NaN'],
    [{ maxDeleteCount: -1 }, 'R2Sync: maxDeleteCount must be a whole number, 0 or more, got -1'],
    [{ maxDeleteCount: 2.5 }, 'R2Sync: maxDeleteCount must be a whole number, 0 or more, got 2.5'],
  ])('refuses %j, naming the prop', (overrides, message) => {
    expect(construct(overrides as Partial<R2SyncProps>)).toThrow(message);
  });

  it('deploys the delete guard limits, 0.5 and 1000 unless the props say otherwise', () => {
    // Act
    const defaults = construct({})();
    const set = construct({ maxDeleteFraction: 0.1, maxDeleteCount: 0 })();

    // Assess
    expect(defaults.settings).toMatchObject({ maxDeleteFraction: 0.5, maxDeleteCount: 1000 });
    expect(set.settings).toMatchObject({ maxDeleteFraction: 0.1, maxDeleteCount: 0 });
  });

  it('has r2.maxDeleteFraction 0.5 and r2.maxDeleteCount 1000 by default, and takes them from the context', () => {
    // Act
    const defaults = loadConfig({}).r2;
    const set = loadConfig({ r2: '{"maxDeleteFraction": 0.25, "maxDeleteCount": 200}' }).r2;

    // Assess
    expect(defaults).toMatchObject({ maxDeleteFraction: 0.5, maxDeleteCount: 1000 });
    expect(set).toMatchObject({ maxDeleteFraction: 0.25, maxDeleteCount: 200 });
  });

  it('refuses a bad schedule expression of the triggers', () => {
    const stack = new Stack(new App(), 'Test');
    const machine = new sfn.StateMachine(stack, 'M', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'P')),
    });

    expect(
      () =>
        new R2SyncTriggers(stack, 'T', {
          stateMachine: machine,
          schedule: { enabled: true, expression: 'hourly', timezone: 'UTC' },
        }),
    ).toThrow('R2SyncTriggers: schedule.expression must be cron(...), rate(...) or at(...), got "hourly"');
  });

  it.each([
    [
      { r2: { enabled: true } },
      'invalid configuration: r2.accountId: required when r2.enabled is true on the aws profile (or set r2.endpoint), got nothing',
    ],
    [
      { r2: { accountId: 'acme' } },
      /r2\.accountId: expected the 32 hexadecimal digits of a Cloudflare account id, got "acme"/,
    ],
    [{ r2: { tables: ['ml_everything'] } }, /r2\.tables\[0\]: .*got "ml_everything"/],
    [{ r2: { prefix: '/features' } }, /r2\.prefix: expected a key prefix ending in \/ \(or empty\), got "\/features"/],
    [{ r2: { maxDeleteFraction: 2 } }, /r2\.maxDeleteFraction: .*got 2$/],
    [{ r2: { maxDeleteCount: -5 } }, /r2\.maxDeleteCount: .*got -5$/],
    [{ r2: { maxDeleteCount: 'many' } }, /r2\.maxDeleteCount: .*got "many"$/],
  ])('refuses the config %j, naming the field and the value', (context, message) => {
    expect(() => loadConfig(context)).toThrow(ConfigError);
    expect(() => loadConfig(context)).toThrow(message);
  });
});

it('passes cdk-nag with the R2 sync deployed', () => {
  const s = synth({ r2: { accountId: ACCOUNT } }, { nag: true });
  expect(Template.fromStack(s.stack)).toBeDefined();
});
