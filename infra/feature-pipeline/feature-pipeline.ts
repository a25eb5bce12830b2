/**
 * The "feature processing" state machine: validate input -> take the run slot -> job 1 (submit,
 * poll, read summary) -> job 2 (same) -> put the "ML Features Updated" event.
 *
 * State names are a contract: the embedded local runner and the tests address states by name.
 * Each job phase is a one-branch Parallel so that its Retry re-runs the whole submit + poll
 * (SPEC section 4 retries); inside the branch a failed poll cancels the job before failing.
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import {
  type SparkJobKind,
  SUMMARY_EVENT_DETAIL_TYPE,
  SUMMARY_EVENT_SOURCE,
} from '../../lambdas/feature-pipeline/contract';
import { assertFitsHistory, HISTORY_EVENT_LIMIT, pollingEvents } from '../common/history-budget';
import { acknowledgeStateMachine } from '../common/nag';
import { acquireRunSlotStep, DEFAULT_RUN_SLOT_RETRY } from '../common/run-slot';
import type { JobPolicy } from '../config';
import { writePageStep } from '../report/report-step';
import type { HandlerName } from './spark-job-functions';

/** Of Step Functions' 25,000 events per execution, what the job phases may use; the rest is a margin. */
export const HISTORY_EVENT_BUDGET = 20_000;
/** Events one poll spends: Wait (entered, exited) + Lambda task (entered, scheduled, started, succeeded, exited) + Choice (entered, exited). */
const EVENTS_PER_POLL = 9;
/** Events of one attempt outside the poll loop: Parallel, Pass, submit, read summary, their enter/exit. */
const EVENTS_PER_ATTEMPT = 24;
/** Events of an execution outside the job phases: start, validation, run slot, publish. */
const EVENTS_OUTSIDE_JOBS = 200;
const DEFAULT_POLL_INTERVAL_SECONDS = 60;
/** The metric a failed job attempt counts in, per state machine: `QuantumPipeline/<stateMachineName>`. */
export const JOB_ATTEMPT_METRIC_NAMESPACE = 'QuantumPipeline';
export const JOB_ATTEMPTS_FAILED_METRIC = 'JobAttemptsFailed';
/** The Fail states that end a job attempt inside a job phase (its Retry decides whether another follows). */
const ATTEMPT_FAIL_STATES = ['Feature', 'MlFeature'].flatMap((label) => [`${label}JobFailed`, `${label}JobAborted`]);

export interface FeaturePipelineProps {
  readonly stateMachineName: string;
  readonly functions: Readonly<Record<HandlerName, lambda.IFunction>>;
  readonly featuresJob: JobPolicy;
  readonly mlFeaturesJob: JobPolicy;
  /** @default 60 */
  readonly pollIntervalSeconds?: number;
  /**
   * The ARNs of other state machines sharing the run slot (table maintenance): the oldest running
   * execution of them all holds it. @default none
   */
  readonly sharesRunSlotWith?: readonly string[];
  /** How a second execution waits for the running one. @default 300 s, x1.5, 12 attempts */
  readonly runSlotRetry?: {
    readonly intervalSeconds: number;
    readonly backoffRate: number;
    readonly maxAttempts: number;
  };
  /** @default the account's default bus */
  readonly eventBus?: events.IEventBus;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /**
   * The run report's function (lambdas/report/handlers/write-report.ts). When given, each run ends
   * with a report step, on success before "ML Features Updated" (whose detail then carries the
   * report's location as `report`) and on failure before PipelineFailed. The step never fails the
   * run: its errors are caught and the execution goes on.
   * @default no report step
   */
  readonly reportFunction?: lambda.IFunction;
}

/** Worst-case history events of a job phase: every attempt polling until its timeout. */
export function worstCaseEvents(policy: JobPolicy, pollIntervalSeconds: number): number {
  const attempt = pollingEvents({
    timeoutSeconds: policy.timeoutSeconds,
    pollSeconds: pollIntervalSeconds,
    eventsPerPoll: EVENTS_PER_POLL,
    fixedEvents: EVENTS_PER_ATTEMPT,
  });
  return (policy.retries + 1) * attempt;
}

/** Worst-case seconds of a job phase: every attempt times out, every retry waits its longest. */
export function worstCaseSeconds(policy: JobPolicy, pollIntervalSeconds: number): number {
  let delays = 0;
  for (let i = 0; i < policy.retries; i += 1) {
    delays += Math.min(policy.retryIntervalSeconds * policy.backoffRate ** i, policy.maxRetryDelaySeconds);
  }
  return (policy.retries + 1) * (policy.timeoutSeconds + 2 * pollIntervalSeconds) + delays;
}

export class FeaturePipeline extends Construct {
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  readonly worstCaseHistoryEvents: number;
  readonly stateMachineName: string;
  /**
   * Fires when a job attempt fails, i.e. when a retry is coming (or, after the last attempt, the
   * failure alert): the execution log's Fail states of the job phases, counted by a metric filter.
   * It has no action of its own: the stack gives it the alert topic (`addAlarmAction(new SnsAction(topic))`).
   */
  readonly failedJobAttemptsAlarm: cloudwatch.Alarm;
  private readonly poll: number;
  /** Where every Catch goes: the failure report (when there is one), then PipelineFailed. */
  private readonly failure: sfn.IChainable;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: FeaturePipelineProps,
  ) {
    super(scope, id);
    this.poll = props.pollIntervalSeconds ?? DEFAULT_POLL_INTERVAL_SECONDS;
    this.worstCaseHistoryEvents = FeaturePipeline.validateProps(props, this.poll);
    this.stateMachineName = props.stateMachineName;
    const failed = new sfn.Fail(this, 'PipelineFailed', { errorPath: '$.failure.Error', causePath: '$.failure.Cause' });
    this.failure = props.reportFunction ? this.writeReport('WriteFailureReport', failed) : failed;

    // Job 2 is reached after job 1, or alone ({"mlOnly": true}); one phase, two ways in.
    const mlPhase = this.sparkJobPhase('ml-features', 'MlFeature', props.mlFeaturesJob, '$.mlFeatures').next(
      this.publish(),
    );
    const afterFeatures = new sfn.Choice(this, 'ShouldRunMlFeatures')
      .when(sfn.Condition.booleanEquals('$.run.skipMlFeatures', true), this.skipMlFeatures().next(this.publish()))
      .otherwise(mlPhase);
    const definition = this.start()
      .next(this.validateInput())
      .next(this.acquireRunSlot())
      .next(
        new sfn.Choice(this, 'ShouldRunFeatures')
          .when(
            sfn.Condition.and(
              sfn.Condition.isPresent('$.run.mlOnly'),
              sfn.Condition.booleanEquals('$.run.mlOnly', true),
            ),
            this.skipFeatures().next(mlPhase),
          )
          .otherwise(this.sparkJobPhase('features', 'Feature', props.featuresJob, '$.features').next(afterFeatures)),
      );

    this.logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    const slot = props.runSlotRetry ?? DEFAULT_RUN_SLOT_RETRY;
    let slotWait = 0;
    for (let i = 0; i < slot.maxAttempts; i += 1) slotWait += slot.intervalSeconds * slot.backoffRate ** i;
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      stateMachineType: sfn.StateMachineType.STANDARD,
      // Backstop only: each job phase cancels its own job at its timeout; this bound never cuts a
      // run that is still within its retry policy.
      timeout: Duration.seconds(
        Math.ceil(
          worstCaseSeconds(props.featuresJob, this.poll) +
            worstCaseSeconds(props.mlFeaturesJob, this.poll) +
            slotWait +
            600,
        ),
      ),
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    acknowledgeStateMachine(
      this.stateMachine,
      [...Object.values(props.functions), ...(props.reportFunction ? [props.reportFunction] : [])],
      "the pipeline's",
    );
    this.failedJobAttemptsAlarm = this.failedAttemptsAlarm();
  }

  /**
   * A metric filter on the execution log (no state of the machine, so no history event) and an
   * alarm on it. A failed attempt enters one of the job phases' Fail states; the phase's Retry then
   * schedules the next attempt, so a person hears of a dying job 20 minutes before its retry runs,
   * not only when the execution has failed for good.
   */
  private failedAttemptsAlarm(): cloudwatch.Alarm {
    const namespace = `${JOB_ATTEMPT_METRIC_NAMESPACE}/${this.props.stateMachineName}`;
    const filter = new logs.MetricFilter(this, 'FailedJobAttempts', {
      logGroup: this.logGroup,
      filterPattern: logs.FilterPattern.all(
        logs.FilterPattern.stringValue('$.type', '=', 'FailStateEntered'),
        logs.FilterPattern.any(
          ...ATTEMPT_FAIL_STATES.map((name) => logs.FilterPattern.stringValue('$.details.name', '=', name)),
        ),
      ),
      metricNamespace: namespace,
      metricName: JOB_ATTEMPTS_FAILED_METRIC,
      metricValue: '1',
    });
    const retries = (label: string, policy: JobPolicy) =>
      `${label} is retried ${policy.retries} time(s), first after ${policy.retryIntervalSeconds} s ` +
      `(x${policy.backoffRate}, at most ${policy.maxRetryDelaySeconds} s)`;
    return new cloudwatch.Alarm(this, 'FailedJobAttemptsAlarm', {
      alarmDescription:
        `A Spark job attempt of ${this.props.stateMachineName} failed; unless it was the last, a retry follows: ` +
        `${retries('job 1', this.props.featuresJob)}, ${retries('job 2', this.props.mlFeaturesJob)}. ` +
        "The execution's history names the cause (driver or job run, state, exit status).",
      metric: filter.metric({ statistic: 'Sum', period: Duration.minutes(5) }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  /**
   * Checks the props, naming the prop and the value, before anything is built.
   * @param poll the poll interval, defaulted
   * @returns the worst-case history events of one execution
   */
  private static validateProps(props: FeaturePipelineProps, poll: number): number {
    if (!Number.isInteger(poll) || poll < 5) {
      throw new Error(`FeaturePipeline: pollIntervalSeconds must be a whole number >= 5, got ${poll}`);
    }
    const events =
      worstCaseEvents(props.featuresJob, poll) + worstCaseEvents(props.mlFeaturesJob, poll) + EVENTS_OUTSIDE_JOBS;
    assertFitsHistory(
      events,
      HISTORY_EVENT_BUDGET,
      () =>
        `FeaturePipeline: pollIntervalSeconds=${poll} lets one execution spend up to ` +
        `${events} history events (budget ${HISTORY_EVENT_BUDGET} of the ${HISTORY_EVENT_LIMIT.toLocaleString('en-US')} limit); ` +
        'poll less often or shorten the job timeouts',
    );
    return events;
  }

  private invoke(
    id: string,
    handler: HandlerName,
    payload: Record<string, unknown>,
    resultPath: string,
  ): tasks.LambdaInvoke {
    return new tasks.LambdaInvoke(this, id, {
      lambdaFunction: this.props.functions[handler],
      payload: sfn.TaskInput.fromObject(payload),
      payloadResponseOnly: true,
      retryOnServiceExceptions: true,
      resultPath,
    });
  }

  /** Drops whatever the trigger sent (ValidateInput reads the execution input itself). */
  private start(): sfn.Pass {
    return new sfn.Pass(this, 'StartRun', { parameters: { 'startedAt.$': '$$.Execution.StartTime' } });
  }

  private validateInput(): sfn.TaskStateBase {
    return this.invoke(
      'ValidateInput',
      'validate-input',
      { 'input.$': '$$.Execution.Input', 'executionName.$': '$$.Execution.Name' },
      '$.run',
    ).addCatch(this.failure, { resultPath: '$.failure' });
  }

  private acquireRunSlot(): sfn.TaskStateBase {
    return acquireRunSlotStep(this, {
      fn: this.props.functions['acquire-run-slot'],
      failure: this.failure,
      retry: this.props.runSlotRetry,
      sharedWith: this.props.sharesRunSlotWith,
    });
  }

  /** Submit -> poll until final -> read the summary, retried as a whole on a failed job. */
  private sparkJobPhase(kind: SparkJobKind, label: string, policy: JobPolicy, resultPath: string): sfn.Parallel {
    const transient = {
      errors: [ERROR_NAMES.backendUnavailable],
      interval: Duration.seconds(10),
      backoffRate: 2,
      maxAttempts: 3,
    };
    const newAttempt = new sfn.Pass(this, `New${label}Attempt`, {
      parameters: { 'run.$': '$.run', 'clientToken.$': 'States.UUID()' },
    });
    const submit = this.invoke(
      `Submit${label}Job`,
      'submit-job',
      { kind, 'run.$': '$.run', 'clientToken.$': '$.clientToken' },
      '$.job',
    ).addRetry(transient);
    const wait = new sfn.Wait(this, `WaitFor${label}Job`, { time: sfn.WaitTime.duration(Duration.seconds(this.poll)) });
    const status = this.invoke(`Get${label}JobStatus`, 'job-status', { 'job.$': '$.job' }, '$.status').addRetry(
      transient,
    );
    const cancel = this.invoke(`Cancel${label}Job`, 'cancel-job', { 'job.$': '$.job' }, '$.cancel');
    status.addCatch(
      cancel.next(
        new sfn.Fail(this, `${label}JobAborted`, { errorPath: '$.failure.Error', causePath: '$.failure.Cause' }),
      ),
      { resultPath: '$.failure' },
    );
    const readSummary = this.invoke(`Read${label}Summary`, 'read-summary', { 'job.$': '$.job' }, '$.outcome');
    const failed = new sfn.Fail(this, `${label}JobFailed`, {
      error: ERROR_NAMES.jobFailed,
      causePath: '$.status.detail',
    });
    const isDone = new sfn.Choice(this, `Is${label}JobDone`)
      .when(sfn.Condition.stringEquals('$.status.state', 'SUCCEEDED'), readSummary)
      .when(
        sfn.Condition.or(
          sfn.Condition.stringEquals('$.status.state', 'FAILED'),
          sfn.Condition.stringEquals('$.status.state', 'CANCELLED'),
        ),
        failed,
      )
      .otherwise(wait);
    const phase = new sfn.Parallel(this, `${label}Job`, {
      resultSelector: { 'outcome.$': '$[0].outcome' },
      resultPath,
    });
    phase.branch(newAttempt.next(submit).next(wait).next(status).next(isDone));
    phase.addRetry({
      errors: [ERROR_NAMES.jobFailed],
      interval: Duration.seconds(policy.retryIntervalSeconds),
      backoffRate: policy.backoffRate,
      maxAttempts: policy.retries,
      maxDelay: Duration.seconds(policy.maxRetryDelaySeconds),
    });
    phase.addCatch(this.failure, { resultPath: '$.failure' });
    return phase;
  }

  private skipFeatures(): sfn.Pass {
    return new sfn.Pass(this, 'FeaturesSkipped', {
      result: sfn.Result.fromObject({ outcome: null }),
      resultPath: '$.features',
    });
  }

  private skipMlFeatures(): sfn.Pass {
    return new sfn.Pass(this, 'MlFeaturesSkipped', {
      result: sfn.Result.fromObject({ outcome: null }),
      resultPath: '$.mlFeatures',
    });
  }

  private published?: sfn.IChainable;

  /**
   * The run report, then `next` whatever happened (writePageStep). The run id is the execution
   * name, so this works even before $.run exists.
   */
  private writeReport(id: string, next: sfn.IChainable): sfn.IChainable {
    return writePageStep(
      this,
      id,
      this.props.reportFunction as lambda.IFunction,
      {
        'runId.$': '$$.Execution.Name',
        ...(id === 'WriteFailureReport' ? { 'failure.$': '$.failure' } : {}),
      },
      next,
    );
  }

  /** One state shared by both Choice branches. */
  private publish(): sfn.IChainable {
    if (this.published) return this.published;
    const put = new tasks.EventBridgePutEvents(this, 'PublishFeaturesUpdated', {
      entries: [
        {
          eventBus: this.props.eventBus,
          source: SUMMARY_EVENT_SOURCE,
          detailType: SUMMARY_EVENT_DETAIL_TYPE,
          detail: sfn.TaskInput.fromObject({
            'runId.$': '$.run.runId',
            'options.$': '$.run.options',
            'features.$': '$.features.outcome',
            'mlFeatures.$': '$.mlFeatures.outcome',
            ...(this.props.reportFunction ? { 'report.$': '$.report' } : {}),
          }),
        },
      ],
      resultPath: sfn.JsonPath.DISCARD,
    });
    put.addCatch(this.failure, { resultPath: '$.failure' });
    const done = put.next(new sfn.Succeed(this, 'PipelineSucceeded'));
    this.published = this.props.reportFunction ? this.writeReport('WriteRunReport', put) : done;
    return this.published;
  }
}
