/** The table-maintenance state machine, its weekly schedule, and the run slot it shares. */
import { describe, expect, it } from 'vitest';
import { type AslDefinition, type AslState, allStates, resolveDefinition } from '../../localstack/embedded/definition';
import { environmentOf, type Synthesized, synth } from './support';

function maintenanceDefinition(s: Synthesized): AslDefinition {
  return resolveDefinition(s.json, s.stack.getLogicalId(s.stack.maintenance.stateMachine.node.defaultChild as never));
}

function pipelineDefinition(s: Synthesized): AslDefinition {
  return resolveDefinition(s.json, s.stack.getLogicalId(s.stack.pipeline.stateMachine.node.defaultChild as never));
}

describe('table maintenance state machine', () => {
  it('validates with the configured defaults, takes the run slot, runs the maintenance job and succeeds', () => {
    const s = synth({ maintenance: { retentionDays: 30, retainLast: 3 } });
    const definition = maintenanceDefinition(s);
    const top = definition.States;

    expect(definition.StartAt).toBe('StartRun');
    expect(top.StartRun.Next).toBe('ValidateInput');
    expect(top.ValidateInput).toMatchObject({
      Next: 'AcquireRunSlot',
      Parameters: {
        'input.$': '$$.Execution.Input',
        'executionName.$': '$$.Execution.Name',
        defaults: { retentionDays: 30, retainLast: 3, targetFileSizeBytes: 134217728 },
      },
    });
    expect(top.AcquireRunSlot.Next).toBe('MaintenanceJob');
    expect(top.MaintenanceJob.Next).toBe('MaintenanceDone');
    const states = Object.fromEntries(allStates(definition)) as Record<string, AslState>;
    expect(states.SubmitMaintenanceJob).toMatchObject({
      Parameters: { kind: 'maintenance', 'run.$': '$.run', 'clientToken.$': '$.clientToken' },
    });
    expect(states.IsMaintenanceJobDone).toMatchObject({ Default: 'WaitForMaintenanceJob' });
    s.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'QuantumPipeline-table-maintenance',
    });
  });

  it('sends every failure to MaintenanceFailed, retries a failed job and waits for a busy slot', () => {
    const top = maintenanceDefinition(synth()).States;

    for (const name of ['ValidateInput', 'AcquireRunSlot', 'MaintenanceJob']) {
      expect(top[name].Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'MaintenanceFailed' },
      ]);
    }
    expect(top.MaintenanceFailed).toMatchObject({ Type: 'Fail', ErrorPath: '$.failure.Error' });
    expect(top.MaintenanceJob.Retry).toEqual([
      expect.objectContaining({ ErrorEquals: ['SparkJobFailedError'], MaxAttempts: 1, IntervalSeconds: 600 }),
    ]);
    expect(top.AcquireRunSlot.Retry).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ ErrorEquals: ['PipelineBusyError'], IntervalSeconds: 300, MaxAttempts: 12 }),
      ]),
    );
  });

  it('shares one run slot with the feature pipeline: each lists the other, and may', () => {
    const s = synth();
    const slot = (definition: AslDefinition) =>
      (definition.States.AcquireRunSlot.Parameters as { sharedWith: string[] }).sharedWith;

    expect(slot(maintenanceDefinition(s))).toEqual([
      expect.stringMatching(/:stateMachine:QuantumPipeline-feature-pipeline$/),
    ]);
    expect(slot(pipelineDefinition(s))).toEqual([
      expect.stringMatching(/:stateMachine:QuantumPipeline-table-maintenance$/),
    ]);
    type Statement = { Sid?: string; Action: unknown; Resource: unknown };
    const statements = Object.values(s.json.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => (r.Properties as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement);
    const listing = statements.filter((statement) => statement.Sid === 'ListOwnExecutions');
    expect(listing).toHaveLength(1);
    expect(listing[0].Action).toBe('states:ListExecutions');
    const resources = JSON.stringify(listing[0].Resource);
    expect(resources).toContain(':stateMachine:QuantumPipeline-feature-pipeline');
    expect(resources).toContain(':stateMachine:QuantumPipeline-table-maintenance');
  });

  it('gives the maintenance job its own timeout in the Spark steps\u2019 settings', () => {
    const s = synth({ maintenance: { timeoutSeconds: 5400 } });
    const settings = JSON.parse(environmentOf(s, 'submit-job').PIPELINE_SETTINGS);

    expect(settings.jobTimeoutSeconds).toMatchObject({ maintenance: 5400 });
  });

  it('starts weekly by default with {"trigger":"schedule"}, and a disabled schedule stays deployed', () => {
    synth().template.hasResourceProperties('AWS::Scheduler::Schedule', {
      ScheduleExpression: 'cron(0 3 ? * SUN *)',
      State: 'ENABLED',
      Target: { Input: JSON.stringify({ trigger: 'schedule' }) },
    });
    synth({ maintenance: { enabled: false, expression: 'rate(3 days)' } }).template.hasResourceProperties(
      'AWS::Scheduler::Schedule',
      { ScheduleExpression: 'rate(3 days)', State: 'DISABLED' },
    );
  });

  it('alerts the topic when an execution fails, times out or is aborted', () => {
    const s = synth();
    const id = s.stack.getLogicalId(s.stack.maintenance.failedAlarm.node.defaultChild as never);
    const alarm = s.json.Resources[id].Properties as Record<string, any>;

    expect(alarm.AlarmActions).toEqual([
      { Ref: s.stack.getLogicalId(s.stack.alerts.topic.node.defaultChild as never) },
    ]);
    const names = JSON.stringify(alarm.Metrics);
    for (const name of ['ExecutionsFailed', 'ExecutionsTimedOut', 'ExecutionsAborted']) expect(names).toContain(name);
  });

  it('refuses a bad setting, naming it and its value', () => {
    expect(() => synth({ maintenance: { retentionDays: 0 } })).toThrow(/maintenance.*retentionDays/s);
    expect(() => synth({ maintenance: { expression: 'weekly' } })).toThrow(/expected cron\(\.\.\.\)/);
  });
});
