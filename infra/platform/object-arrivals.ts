/**
 * New raw objects start the feature pipeline, once per quiet window rather than once per object.
 *
 *   S3 "Object Created" (raw-results, experiments/...)  -- default bus, rule OnRawObjectCreated -->
 *   debounce function: StartExecution of the debounce state machine, named after the current
 *   window (`objects-<window start>`, windows of quietMinutes aligned to the epoch)  -->
 *   debounce execution: Wait until the window ends -> put "Raw Objects Settled" on the pipeline's bus
 *   -- rule OnObjectsSettled -->  feature pipeline {"trigger":"objects"}
 *
 * Why this mechanism: Step Functions refuses a second execution with a name it has seen, so the
 * thousands of events of one window make one execution with no table, lock or counter of our own
 * (a repeated start with the same name and input while the first waits is simply accepted). An
 * EventBridge rule cannot name the executions it starts, hence the small function; Scheduler
 * one-time schedules would need the same function and, locally, a scheduler nobody runs, whereas
 * this state machine runs in the embedded runner like the others. The last hop is an event, not a
 * StartExecution task, so the run is started the way the other triggers start it (retries, the
 * dead-letter queue) and the rule can be switched off alone.
 *
 * What it guarantees: an object whose event is handled at time t is read by a run that starts
 * after t (the window containing t ends after t). Objects of one window start one run; a burst
 * that straddles two windows starts two, and the feature pipeline's run slot makes the second wait
 * for the first and read only what the first did not. A burst during a run starts one more run
 * after it, for the same reason. An event lost on the way is picked up by the daily schedule, as
 * job 1 reads every raw file not yet ingested, whoever announced it.
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as eventTargets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import {
  OBJECT_ARRIVALS_ENV,
  OBJECTS_EVENT_DETAIL_TYPE,
  OBJECTS_EVENT_SOURCE,
  RAW_OBJECTS_PREFIX,
} from '../../lambdas/feature-pipeline/contract';
import { acknowledgeStateMachine } from '../common/nag';
import { type LogLevel, pipelineFunction } from '../common/pipeline-function';
import { delivery, ownEvent } from './triggers';

const DEFAULT_QUIET_MINUTES = 10;
/** A window's execution waits at most quietMinutes; this is the margin of its timeout. */
const EXECUTION_MARGIN = Duration.minutes(30);

export interface ObjectArrivalsTriggerProps {
  /** The bucket whose new objects start runs. Its EventBridge notifications must be on (PipelineBuckets does). */
  readonly rawResults: s3.IBucket;
  readonly featurePipeline: sfn.IStateMachine;
  /** Name of the debounce state machine. @default generated */
  readonly stateMachineName?: string;
  /** The length of a window, whole minutes from 1 to 1440. @default 10 */
  readonly quietMinutes?: number;
  /** The key prefix whose objects count. @default 'experiments/' */
  readonly keyPrefix?: string;
  /** The rules are deployed disabled when false (they can be switched on in the console). @default true */
  readonly enabled?: boolean;
  /**
   * Where "Raw Objects Settled" goes. The debounce state machine's role must be a producer of a
   * PipelineEventBus. @default the account's default bus
   */
  readonly eventBus?: events.IEventBus;
  /** Where an event that keeps failing to reach its target goes. @default none (dropped after the retries) */
  readonly deadLetterQueue?: sqs.IQueue;
  /** LOG_LEVEL of the debounce function. @default 'INFO' */
  readonly logLevel?: LogLevel;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
}

export class ObjectArrivalsTrigger extends Construct {
  /** The debounce state machine: one execution per window that saw objects. */
  readonly stateMachine: sfn.StateMachine;
  /** The rule's target: starts the window's execution. */
  readonly debounceFunction: lambda.IFunction;
  /** S3 "Object Created" under the prefix -> the debounce function (on the default bus, where S3 puts its events). */
  readonly objectCreatedRule: events.Rule;
  /** "Raw Objects Settled" -> the feature pipeline with {"trigger":"objects"}. */
  readonly settledRule: events.Rule;
  readonly quietMinutes: number;

  constructor(scope: Construct, id: string, props: ObjectArrivalsTriggerProps) {
    super(scope, id);
    ObjectArrivalsTrigger.validateProps(props);
    this.quietMinutes = props.quietMinutes ?? DEFAULT_QUIET_MINUTES;
    const enabled = props.enabled ?? true;

    const wait = new sfn.Wait(this, 'WaitForQuietPeriod', { time: sfn.WaitTime.timestampPath('$.window.end') });
    const publish = new tasks.EventBridgePutEvents(this, 'PublishObjectsSettled', {
      entries: [
        {
          eventBus: props.eventBus,
          source: OBJECTS_EVENT_SOURCE,
          detailType: OBJECTS_EVENT_DETAIL_TYPE,
          detail: sfn.TaskInput.fromObject({ 'window.$': '$.window', 'execution.$': '$$.Execution.Name' }),
        },
      ],
      resultPath: sfn.JsonPath.DISCARD,
    }).addRetry({ interval: Duration.seconds(5), backoffRate: 2, maxAttempts: 4 });
    const logGroup = new logs.LogGroup(this, 'ExecutionLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.stateMachine = new sfn.StateMachine(this, 'Debounce', {
      stateMachineName: props.stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(wait.next(publish).next(new sfn.Succeed(this, 'RunRequested'))),
      stateMachineType: sfn.StateMachineType.STANDARD,
      timeout: Duration.minutes(this.quietMinutes).plus(EXECUTION_MARGIN),
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
      tracingEnabled: true,
    });
    acknowledgeStateMachine(this.stateMachine, [], "the object arrivals'");

    const fn = pipelineFunction(this, 'DebounceFunction', {
      handler: 'lambdas/feature-pipeline/handlers/debounce-objects.ts',
      timeout: Duration.seconds(30),
      environment: {
        [OBJECT_ARRIVALS_ENV.stateMachineArn]: this.stateMachine.stateMachineArn,
        [OBJECT_ARRIVALS_ENV.quietSeconds]: String(this.quietMinutes * 60),
      },
      logLevel: props.logLevel,
      logRetention: props.logRetention,
    });
    this.stateMachine.grantStartExecution(fn);
    this.debounceFunction = fn;

    this.objectCreatedRule = new events.Rule(this, 'OnRawObjectCreated', {
      description: `Starts the quiet window of new raw objects (${this.quietMinutes} min), then one feature pipeline run`,
      enabled,
      eventPattern: {
        source: ['aws.s3'],
        detailType: ['Object Created'],
        detail: {
          bucket: { name: [props.rawResults.bucketName] },
          object: { key: events.Match.prefix(props.keyPrefix ?? RAW_OBJECTS_PREFIX) },
        },
      },
      targets: [new eventTargets.LambdaFunction(fn, delivery(props.deadLetterQueue))],
    });
    this.settledRule = new events.Rule(this, 'OnObjectsSettled', {
      description: 'Runs the feature pipeline on the raw objects of a closed quiet window',
      eventBus: props.eventBus,
      enabled,
      eventPattern: ownEvent(this, { source: [OBJECTS_EVENT_SOURCE], detailType: [OBJECTS_EVENT_DETAIL_TYPE] }),
      targets: [
        new eventTargets.SfnStateMachine(props.featurePipeline, {
          input: events.RuleTargetInput.fromObject({ trigger: 'objects' }),
          ...delivery(props.deadLetterQueue),
        }),
      ],
    });
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: ObjectArrivalsTriggerProps): void {
    const minutes = props.quietMinutes;
    if (minutes !== undefined && (!Number.isInteger(minutes) || minutes < 1 || minutes > 1440)) {
      throw new Error(`ObjectArrivalsTrigger: quietMinutes must be a whole number from 1 to 1440, got ${minutes}`);
    }
    if (props.keyPrefix !== undefined && props.keyPrefix.length === 0) {
      throw new Error('ObjectArrivalsTrigger: keyPrefix must not be empty, got ""');
    }
  }
}
