/**
 * The "table maintenance" state machine and its weekly schedule: validate input -> take the run
 * slot the feature pipeline shares -> the maintenance Spark job (submit, poll, read summary) ->
 * done. Every failure goes one way: MaintenanceFailed.
 *
 * The run slot is held by the oldest running execution of the state machines that share it (the
 * feature pipeline lists this machine's executions too), so maintenance and a pipeline run never
 * work on the tables at once. The slot is free again when the execution ends, however it ends.
 * State names are a contract: the embedded local runner and the tests address states by name.
 */
import { ArnFormat, Duration, Stack, TimeZone } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import { MaintenanceOptions } from '../../lambdas/feature-pipeline/contract';
import { acknowledgeStateMachine } from '../common/nag';
import { type LogLevel, pipelineFunction } from '../common/pipeline-function';
import { acquireRunSlotStep } from '../common/run-slot';
import type { HandlerName } from '../feature-pipeline/spark-job-functions';
import { delivery } from '../platform/triggers';

/** Sundays 03:00 UTC: after the daily pipeline run (02:00), before the week's work. */
export const DEFAULT_MAINTENANCE_SCHEDULE = 'cron(0 3 ? * SUN *)';
export const DEFAULT_MAINTENANCE_OPTIONS: MaintenanceOptions = {
  retentionDays: 90,
  retainLast: 5,
  targetFileSizeBytes: 128 * 1024 * 1024,
};
const SCHEDULE_EXPRESSION = /^(cron|rate|at)\(.+\)$/;
const DEFAULT_POLL_INTERVAL_SECONDS = 60;
const SPARK_STEPS: readonly HandlerName[] = [
  'acquire-run-slot',
  'submit-job',
  'job-status',
  'cancel-job',
  'read-summary',
];

export interface TableMaintenanceProps {
  /** The state machine's name, `<stack>-table-maintenance` in the stack. */
  readonly stateMachineName: string;
  /** The feature pipeline's Spark steps (SparkJobFunctions), whose settings carry jobTimeoutSeconds.maintenance. */
  readonly functions: Readonly<Record<HandlerName, lambda.IFunction>>;
  /** The state machines that share the run slot (the feature pipeline's name). */
  readonly sharesRunSlotWith: readonly string[];
  /** What a run does when its input says nothing. @default 90 days, the last 5, 128 MiB files */
  readonly defaults?: MaintenanceOptions;
  /** Attempts after the first, and how long to wait before each. @default 1, 600 s */
  readonly retries?: number;
  readonly retryIntervalSeconds?: number;
  /** @default 60 */
  readonly pollIntervalSeconds?: number;
  /** How a run waits for the slot. @default 300 s, x1.5, 12 attempts */
  readonly runSlotRetry?: {
    readonly intervalSeconds: number;
    readonly backoffRate: number;
    readonly maxAttempts: number;
  };
  /** The weekly start; a disabled schedule stays deployed. @default enabled, DEFAULT_MAINTENANCE_SCHEDULE, UTC */
  readonly schedule?: { readonly enabled: boolean; readonly expression: string; readonly timezone?: string };
  /** Where a scheduled start that keeps failing goes. @default none */
  readonly deadLetterQueue?: sqs.IQueue;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** @default 'INFO' */
  readonly logLevel?: LogLevel;
}

export class TableMaintenance extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly stateMachineName: string;
  readonly schedule: scheduler.Schedule;
  readonly validateFunction: lambda.IFunction;
  readonly logGroup: logs.LogGroup;
  /**
   * Fires when an execution failed, timed out or was aborted. It has no action of its own: the
   * stack gives it the alert topic (PipelineAlerts.notify).
   */
  readonly failedAlarm: cloudwatch.Alarm;
  private readonly failure: sfn.Fail;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: TableMaintenanceProps,
  ) {
    super(scope, id);
    TableMaintenance.validateProps(props);
    this.stateMachineName = props.stateMachineName;
    const poll = props.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS;
    this.validateFunction = pipelineFunction(this, 'ValidateInputFunction', {
      handler: 'lambdas/maintenance/handlers/validate-input.ts',
      timeout: Duration.seconds(10),
      environment: {},
      logRetention: props.logRetention,
      logLevel: props.logLevel,
    });
    this.failure = new sfn.Fail(this, 'MaintenanceFailed', {
      errorPath: '$.failure.Error',
      causePath: '$.failure.Cause',
    });
    const definition = new sfn.Pass(this, 'StartRun', { parameters: { 'startedAt.$': '$$.Execution.StartTime' } })
      .next(this.validateInput())
      .next(this.acquireRunSlot())
      .next(this.maintenanceJob(poll))
      .next(new sfn.Succeed(this, 'MaintenanceDone'));

    this.logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Backstop only: the job phase cancels its own job at its timeout (job-status).
      timeout: Duration.hours(24),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    acknowledgeStateMachine(
      this.stateMachine,
      [this.validateFunction, ...SPARK_STEPS.map((name) => props.functions[name])],
      "table maintenance's and the feature pipeline's",
    );
    this.failedAlarm = new cloudwatch.Alarm(this, 'FailedAlarm', {
      alarmDescription:
        `An execution of ${props.stateMachineName} failed, timed out or was aborted: the tables were not maintained ` +
        'this time. Its history names the cause; the tables are unchanged by a failed step (Iceberg commits are atomic).',
      metric: new cloudwatch.MathExpression({
        expression: 'failed + timedOut + aborted',
        usingMetrics: {
          failed: this.stateMachine.metricFailed({ statistic: 'Sum' }),
          timedOut: this.stateMachine.metricTimedOut({ statistic: 'Sum' }),
          aborted: this.stateMachine.metricAborted({ statistic: 'Sum' }),
        },
        period: Duration.minutes(5),
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const schedule = props.schedule ?? { enabled: true, expression: DEFAULT_MAINTENANCE_SCHEDULE };
    this.schedule = new scheduler.Schedule(this, 'Weekly', {
      description: 'Starts table maintenance (input {"trigger":"schedule"})',
      schedule: scheduler.ScheduleExpression.expression(schedule.expression, TimeZone.of(schedule.timezone ?? 'UTC')),
      enabled: schedule.enabled,
      target: new targets.StepFunctionsStartExecution(this.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({ trigger: 'schedule' }),
        ...delivery(props.deadLetterQueue),
      }),
    });
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: TableMaintenanceProps): void {
    const name = /^[A-Za-z0-9_-]{1,80}$/;
    if (!name.test(props.stateMachineName)) {
      throw new Error(
        `TableMaintenance: stateMachineName must be 1-80 letters, digits, - or _, got ${JSON.stringify(props.stateMachineName)}`,
      );
    }
    for (const other of props.sharesRunSlotWith) {
      if (!name.test(other) || other === props.stateMachineName) {
        throw new Error(
          `TableMaintenance: sharesRunSlotWith must name other state machines (1-80 letters, digits, - or _), got ${JSON.stringify(other)}`,
        );
      }
    }
    if (props.defaults !== undefined) {
      const parsed = MaintenanceOptions.safeParse(props.defaults);
      if (!parsed.success) {
        throw new Error(`TableMaintenance: defaults ${JSON.stringify(props.defaults)}: ${parsed.error.message}`);
      }
    }
    const poll = props.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS;
    if (!Number.isInteger(poll) || poll < 5) {
      throw new Error(`TableMaintenance: pollIntervalSeconds must be a whole number >= 5, got ${poll}`);
    }
    const retries = props.retries ?? 1;
    if (!Number.isInteger(retries) || retries < 0 || retries > 10) {
      throw new Error(`TableMaintenance: retries must be a whole number from 0 to 10, got ${retries}`);
    }
    if (props.schedule && !SCHEDULE_EXPRESSION.test(props.schedule.expression)) {
      throw new Error(
        `TableMaintenance: schedule.expression must be cron(...), rate(...) or at(...), got ${JSON.stringify(props.schedule.expression)}`,
      );
    }
  }

  /** The ARN of a state machine of this stack, from its fixed name (no reference, so no cycle). */
  static stateMachineArn(scope: Construct, name: string): string {
    return Stack.of(scope).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: name,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
  }

  private invoke(
    id: string,
    fn: lambda.IFunction,
    payload: Record<string, unknown>,
    resultPath: string,
  ): tasks.LambdaInvoke {
    return new tasks.LambdaInvoke(this, id, {
      lambdaFunction: fn,
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      resultPath,
    });
  }

  private validateInput(): sfn.TaskStateBase {
    return this.invoke(
      'ValidateInput',
      this.validateFunction,
      {
        'input.$': '$$.Execution.Input',
        'executionName.$': '$$.Execution.Name',
        defaults: this.props.defaults ?? DEFAULT_MAINTENANCE_OPTIONS,
      },
      '$.run',
    ).addCatch(this.failure, { resultPath: '$.failure' });
  }

  private acquireRunSlot(): sfn.TaskStateBase {
    return acquireRunSlotStep(this, {
      fn: this.props.functions['acquire-run-slot'],
      failure: this.failure,
      retry: this.props.runSlotRetry,
      sharedWith: this.props.sharesRunSlotWith.map((name) => TableMaintenance.stateMachineArn(this, name)),
    });
  }

  /** Submit -> poll until final -> read the summary; a failed job is retried as a whole. */
  private maintenanceJob(poll: number): sfn.Parallel {
    const fns = this.props.functions;
    const transient = {
      errors: [ERROR_NAMES.backendUnavailable],
      interval: Duration.seconds(10),
      backoffRate: 2,
      maxAttempts: 3,
    };
    const newAttempt = new sfn.Pass(this, 'NewMaintenanceAttempt', {
      parameters: { 'run.$': '$.run', 'clientToken.$': 'States.UUID()' },
    });
    const submit = this.invoke(
      'SubmitMaintenanceJob',
      fns['submit-job'],
      { kind: 'maintenance', 'run.$': '$.run', 'clientToken.$': '$.clientToken' },
      '$.job',
    ).addRetry(transient);
    const wait = new sfn.Wait(this, 'WaitForMaintenanceJob', { time: sfn.WaitTime.duration(Duration.seconds(poll)) });
    const status = this.invoke('GetMaintenanceJobStatus', fns['job-status'], { 'job.$': '$.job' }, '$.status').addRetry(
      transient,
    );
    const cancel = this.invoke('CancelMaintenanceJob', fns['cancel-job'], { 'job.$': '$.job' }, '$.cancel');
    status.addCatch(
      cancel.next(
        new sfn.Fail(this, 'MaintenanceJobAborted', { errorPath: '$.failure.Error', causePath: '$.failure.Cause' }),
      ),
      { resultPath: '$.failure' },
    );
    const readSummary = this.invoke('ReadMaintenanceSummary', fns['read-summary'], { 'job.$': '$.job' }, '$.outcome');
    const failed = new sfn.Fail(this, 'MaintenanceJobFailed', {
      error: ERROR_NAMES.jobFailed,
      causePath: '$.status.detail',
    });
    const isDone = new sfn.Choice(this, 'IsMaintenanceJobDone')
      .when(sfn.Condition.stringEquals('$.status.state', 'SUCCEEDED'), readSummary)
      .when(
        sfn.Condition.or(
          sfn.Condition.stringEquals('$.status.state', 'FAILED'),
          sfn.Condition.stringEquals('$.status.state', 'CANCELLED'),
        ),
        failed,
      )
      .otherwise(wait);
    const phase = new sfn.Parallel(this, 'MaintenanceJob', {
      resultSelector: { 'outcome.$': '$[0].outcome' },
      resultPath: '$.maintenance',
    });
    phase.branch(newAttempt.next(submit).next(wait).next(status).next(isDone));
    phase.addRetry({
      errors: [ERROR_NAMES.jobFailed],
      interval: Duration.seconds(this.props.retryIntervalSeconds ?? 600),
      backoffRate: 2,
      maxAttempts: this.props.retries ?? 1,
    });
    phase.addCatch(this.failure, { resultPath: '$.failure' });
    return phase;
  }
}
