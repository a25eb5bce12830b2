/**
 * What starts the state machines: the feature pipeline's daily schedule, the R2 sync's event rule
 * and schedule, the batch's "VQE Batch Finished" rule (new raw objects: object-arrivals.ts). Every target retries as TARGET_RETRY says,
 * then hands the event to the dead-letter queue (when one is given) instead of dropping it.
 */
import { Duration, Stack, TimeZone } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import * as scheduler from 'aws-cdk-lib/aws-scheduler';
import * as targets from 'aws-cdk-lib/aws-scheduler-targets';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { SUMMARY_EVENT_DETAIL_TYPE, SUMMARY_EVENT_SOURCE } from '../../lambdas/feature-pipeline/contract';
import { BATCH_EVENT_DETAIL_TYPE, BATCH_EVENT_SOURCE } from '../../lambdas/vqe-batch/contract';

/** What EventBridge Scheduler accepts as a schedule expression, roughly: the kind is checked here, the rest at deploy time. */
const SCHEDULE_EXPRESSION = /^(cron|rate|at)\(.+\)$/;
const DEFAULT_PIPELINE_SCHEDULE = 'cron(0 2 * * ? *)';
const DEFAULT_R2_SYNC_SCHEDULE = { enabled: false, expression: 'cron(0 4 * * ? *)', timezone: 'UTC' } as const;

/**
 * The retry policy of every schedule and rule target, stated rather than left to the services'
 * defaults (185 attempts over 24 h): a start that fails twice, or is still undelivered after an
 * hour, goes to the dead-letter queue, whose alarm tells someone.
 */
export const TARGET_RETRY = { retryAttempts: 2, maxEventAge: Duration.hours(1) } as const;

/** What a schedule or rule target is given: the retry policy and, when there is one, the dead-letter queue. */
export function delivery(deadLetterQueue: sqs.IQueue | undefined) {
  return { ...TARGET_RETRY, ...(deadLetterQueue ? { deadLetterQueue } : {}) };
}

/** The pattern of one of the pipeline's own events, from this account only. */
export function ownEvent(scope: Construct, pattern: events.EventPattern): events.EventPattern {
  return { ...pattern, account: [Stack.of(scope).account] };
}

export interface PipelineScheduleProps {
  readonly stateMachine: sfn.IStateMachine;
  /** cron(...), rate(...) or at(...). @default 'cron(0 2 * * ? *)' (02:00 daily) */
  readonly expression?: string;
  /** IANA time zone of the expression. @default 'UTC' */
  readonly timezone?: string;
  /** A disabled schedule stays deployed and can be switched on in the console. @default true */
  readonly enabled?: boolean;
  /** Where a start that keeps failing goes. @default none (it is dropped after the retries) */
  readonly deadLetterQueue?: sqs.IQueue;
}

export class PipelineSchedule extends Construct {
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: PipelineScheduleProps) {
    super(scope, id);
    PipelineSchedule.validateProps(props);
    const expression = props.expression ?? DEFAULT_PIPELINE_SCHEDULE;
    const zone = TimeZone.of(props.timezone ?? 'UTC');
    this.schedule = new scheduler.Schedule(this, 'Daily', {
      description: 'Starts the feature pipeline (input {"trigger":"schedule"})',
      schedule: scheduler.ScheduleExpression.expression(expression, zone),
      enabled: props.enabled ?? true,
      target: new targets.StepFunctionsStartExecution(props.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({ trigger: 'schedule' }),
        ...delivery(props.deadLetterQueue),
      }),
    });
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: PipelineScheduleProps): void {
    if (props.expression !== undefined && !SCHEDULE_EXPRESSION.test(props.expression)) {
      throw new Error(
        `PipelineSchedule: expression must be cron(...), rate(...) or at(...), got ${JSON.stringify(props.expression)}`,
      );
    }
  }
}

export interface R2SyncTriggersProps {
  readonly stateMachine: sfn.IStateMachine;
  /** Start a sync when the feature pipeline's job 2 wrote new rows. @default true */
  readonly onFeaturesUpdated?: boolean;
  /** A schedule of its own, deployed switched off unless enabled. @default off, 'cron(0 4 * * ? *)', UTC */
  readonly schedule?: { readonly enabled: boolean; readonly expression: string; readonly timezone: string };
  /** The bus the feature pipeline publishes on. @default the account's default bus */
  readonly eventBus?: events.IEventBus;
  /** Where a start that keeps failing goes. @default none (it is dropped after the retries) */
  readonly deadLetterQueue?: sqs.IQueue;
}

/**
 * What starts "r2 sync": the feature pipeline's "ML Features Updated" event when job 2 changed
 * the ML tables (rule deployed disabled when switched off), and an optional schedule.
 */
export class R2SyncTriggers extends Construct {
  readonly featuresUpdatedRule: events.Rule;
  readonly schedule: scheduler.Schedule;

  constructor(scope: Construct, id: string, props: R2SyncTriggersProps) {
    super(scope, id);
    R2SyncTriggers.validateProps(props);
    const schedule = props.schedule ?? DEFAULT_R2_SYNC_SCHEDULE;
    this.featuresUpdatedRule = new events.Rule(this, 'OnFeaturesUpdated', {
      description: 'Mirrors the ML tables to R2 after job 2 of the feature pipeline changed them',
      eventBus: props.eventBus,
      enabled: props.onFeaturesUpdated ?? true,
      eventPattern: ownEvent(this, {
        source: [SUMMARY_EVENT_SOURCE],
        detailType: [SUMMARY_EVENT_DETAIL_TYPE],
        detail: { mlFeatures: { status: ['succeeded'] } },
      }),
      targets: [
        new eventTargets.SfnStateMachine(props.stateMachine, {
          input: events.RuleTargetInput.fromObject({ trigger: 'features-updated' }),
          ...delivery(props.deadLetterQueue),
        }),
      ],
    });
    this.schedule = new scheduler.Schedule(this, 'Schedule', {
      description: 'Starts the R2 sync (input {"trigger":"schedule"})',
      schedule: scheduler.ScheduleExpression.expression(schedule.expression, TimeZone.of(schedule.timezone)),
      enabled: schedule.enabled,
      target: new targets.StepFunctionsStartExecution(props.stateMachine, {
        input: scheduler.ScheduleTargetInput.fromObject({ trigger: 'schedule' }),
        ...delivery(props.deadLetterQueue),
      }),
    });
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: R2SyncTriggersProps): void {
    if (props.schedule && !SCHEDULE_EXPRESSION.test(props.schedule.expression)) {
      throw new Error(
        `R2SyncTriggers: schedule.expression must be cron(...), rate(...) or at(...), got ${JSON.stringify(props.schedule.expression)}`,
      );
    }
  }
}

export interface BatchFinishedTriggerProps {
  readonly featurePipeline: sfn.IStateMachine;
  /** Deployed disabled when false (it can be switched on in the console). @default true */
  readonly enabled?: boolean;
  /** The bus the batch publishes on. @default the account's default bus */
  readonly eventBus?: events.IEventBus;
  /** Where a start that keeps failing goes. @default none (it is dropped after the retries) */
  readonly deadLetterQueue?: sqs.IQueue;
}

/** Starts the feature pipeline when a VQE batch that wrote records finishes ("VQE Batch Finished", producedRecords true). */
export class BatchFinishedTrigger extends Construct {
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: BatchFinishedTriggerProps) {
    super(scope, id);
    this.rule = new events.Rule(this, 'OnBatchFinished', {
      description: 'Runs the feature pipeline on the records of a finished VQE batch',
      eventBus: props.eventBus,
      enabled: props.enabled ?? true,
      eventPattern: ownEvent(this, {
        source: [BATCH_EVENT_SOURCE],
        detailType: [BATCH_EVENT_DETAIL_TYPE],
        detail: { producedRecords: [true] },
      }),
      targets: [
        new eventTargets.SfnStateMachine(props.featurePipeline, {
          input: events.RuleTargetInput.fromObject({ trigger: 'vqe-batch' }),
          ...delivery(props.deadLetterQueue),
        }),
      ],
    });
  }
}
