/** The synthesized feature-pipeline definition: states, retries, catches and their parameters. */
import { describe, expect, it } from 'vitest';
import { worstCaseEvents } from '../../infra/feature-pipeline/feature-pipeline';
import { type AslState, allStates } from '../../localstack/embedded/definition';
import { definitionOf, synth } from './support';

function states(context: Record<string, unknown> = {}): Record<string, AslState> {
  return Object.fromEntries(allStates(definitionOf(synth(context))));
}

describe('feature processing state machine', () => {
  it('validates, takes the run slot, runs job 1 (or skips it: mlOnly), then job 2 or skips it, and publishes', () => {
    const definition = definitionOf(synth());
    const top = definition.States;

    expect(definition.StartAt).toBe('StartRun');
    expect(top.StartRun.Next).toBe('ValidateInput');
    expect(top.ValidateInput.Next).toBe('AcquireRunSlot');
    expect(top.AcquireRunSlot.Next).toBe('ShouldRunFeatures');
    expect(top.ShouldRunFeatures).toMatchObject({
      Choices: [
        {
          And: [
            { Variable: '$.run.mlOnly', IsPresent: true },
            { Variable: '$.run.mlOnly', BooleanEquals: true },
          ],
          Next: 'FeaturesSkipped',
        },
      ],
      Default: 'FeatureJob',
    });
    // Skipped, job 1's outcome is null (the summary event says so), and job 2 runs as after job 1.
    expect(top.FeaturesSkipped).toMatchObject({ Result: { outcome: null }, ResultPath: '$.features' });
    expect(top.FeaturesSkipped.Next).toBe('MlFeatureJob');
    expect(top.FeatureJob.Next).toBe('ShouldRunMlFeatures');
    expect(top.ShouldRunMlFeatures).toMatchObject({
      Choices: [{ Variable: '$.run.skipMlFeatures', BooleanEquals: true, Next: 'MlFeaturesSkipped' }],
      Default: 'MlFeatureJob',
    });
    expect(top.MlFeatureJob.Next).toBe('WriteRunReport');
    expect(top.MlFeaturesSkipped.Next).toBe('WriteRunReport');
    // The run report never stops the run: written or not, the event goes out.
    expect(top.WriteRunReport).toMatchObject({
      Next: 'PublishFeaturesUpdated',
      ResultPath: '$.report',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.report', Next: 'PublishFeaturesUpdated' }],
    });
    expect(top.PublishFeaturesUpdated).toMatchObject({
      Resource: 'arn:aws:states:::events:putEvents',
      Parameters: {
        Entries: [expect.objectContaining({ Source: 'quantum-pipeline.features', DetailType: 'ML Features Updated' })],
      },
      Next: 'PipelineSucceeded',
    });
  });

  it('sends every top-level failure to one failure path that keeps the error', () => {
    const top = definitionOf(synth()).States;

    for (const name of ['ValidateInput', 'AcquireRunSlot', 'FeatureJob', 'MlFeatureJob', 'PublishFeaturesUpdated']) {
      expect(top[name].Catch, name).toEqual([
        { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'WriteFailureReport' },
      ]);
    }
    // The failure path writes the run report (keeping $.failure), then fails, whatever the report did.
    expect(top.WriteFailureReport).toMatchObject({
      Parameters: { 'runId.$': '$$.Execution.Name', 'failure.$': '$.failure' },
      ResultPath: '$.report',
      Next: 'PipelineFailed',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.report', Next: 'PipelineFailed' }],
    });
    expect(top.PipelineFailed).toEqual({ Type: 'Fail', ErrorPath: '$.failure.Error', CausePath: '$.failure.Cause' });
  });

  it('retries job 1 three times from 20 minutes and job 2 twice from 15, doubling up to an hour (SPEC section 4)', () => {
    const top = definitionOf(synth()).States;

    expect(top.FeatureJob.Retry).toEqual([
      {
        ErrorEquals: ['SparkJobFailedError'],
        IntervalSeconds: 1200,
        MaxAttempts: 3,
        BackoffRate: 2,
        MaxDelaySeconds: 3600,
      },
    ]);
    expect(top.MlFeatureJob.Retry).toEqual([
      {
        ErrorEquals: ['SparkJobFailedError'],
        IntervalSeconds: 900,
        MaxAttempts: 2,
        BackoffRate: 2,
        MaxDelaySeconds: 3600,
      },
    ]);
  });

  it('makes a second execution wait for the running one with backoff', () => {
    expect(states().AcquireRunSlot.Retry).toEqual(
      expect.arrayContaining([
        { ErrorEquals: ['PipelineBusyError'], IntervalSeconds: 300, MaxAttempts: 12, BackoffRate: 1.5 },
      ]),
    );
  });

  it('submits with a fresh client token per attempt, polls at the configured interval, cancels on a failed poll', () => {
    const all = states({ pollIntervalSeconds: 30 });

    expect(all.NewFeatureAttempt.Parameters).toEqual({ 'run.$': '$.run', 'clientToken.$': 'States.UUID()' });
    expect(all.SubmitFeatureJob.Parameters).toEqual({
      kind: 'features',
      'run.$': '$.run',
      'clientToken.$': '$.clientToken',
    });
    expect(all.SubmitMlFeatureJob.Parameters).toMatchObject({ kind: 'ml-features' });
    expect(all.WaitForFeatureJob).toMatchObject({ Type: 'Wait', Seconds: 30, Next: 'GetFeatureJobStatus' });
    expect(all.GetFeatureJobStatus.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'CancelFeatureJob' },
    ]);
    expect(all.GetFeatureJobStatus.Retry).toEqual(
      expect.arrayContaining([
        { ErrorEquals: ['SparkBackendUnavailableError'], IntervalSeconds: 10, MaxAttempts: 3, BackoffRate: 2 },
      ]),
    );
    expect(all.CancelFeatureJob.Next).toBe('FeatureJobAborted');
    expect(all.FeatureJobFailed).toEqual({ Type: 'Fail', Error: 'SparkJobFailedError', CausePath: '$.status.detail' });
    expect(all.IsFeatureJobDone).toMatchObject({ Default: 'WaitForFeatureJob' });
  });

  it('calls each Lambda directly with its own payload (no invoke envelope to unwrap)', () => {
    const all = states();

    for (const name of [
      'ValidateInput',
      'AcquireRunSlot',
      'SubmitFeatureJob',
      'GetFeatureJobStatus',
      'ReadFeatureSummary',
      'CancelFeatureJob',
    ]) {
      expect(all[name].Resource, name).toMatch(/^arn:aws:lambda:[^:]+:\d{12}:function:Functions/);
    }
    expect(all.ValidateInput.Parameters).toEqual({
      'input.$': '$$.Execution.Input',
      'executionName.$': '$$.Execution.Name',
    });
  });

  it('logs every event, traces, and bounds the execution by the worst case of its retry policy', () => {
    const { template } = synth();

    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'QuantumPipeline-feature-pipeline',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: { Level: 'ALL', IncludeExecutionData: true },
    });
    const definition = definitionOf(synth());
    // 4 x (2 h + 2 polls) + retry pauses, 3 x (1 h + 2 polls) + pauses, the run-slot waits, 10 min margin.
    expect(definition.TimeoutSeconds).toBeGreaterThan(4 * 7200 + 3 * 3600);
  });

  it('refuses a poll interval whose worst case would exceed the history budget, naming it', () => {
    const policy = {
      retries: 3,
      retryIntervalSeconds: 1200,
      backoffRate: 2,
      maxRetryDelaySeconds: 3600,
      timeoutSeconds: 7200,
      slaSeconds: 5400,
    };

    // Counted by hand: 4 attempts x (121 polls (7,200 s / 60 s, plus the last) x 9 events + 24 around the loop).
    expect(worstCaseEvents(policy, 60)).toBe(4452);
    expect(() => synth({ pollIntervalSeconds: 5 })).toThrow(
      /pollIntervalSeconds=5 lets one execution spend up to \d+ history events/,
    );
  });
});
