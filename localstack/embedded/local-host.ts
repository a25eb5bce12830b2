/**
 * Runs synthesized state machines in-process with `aws-local-stepfunctions`, binding every Lambda
 * task to its real handler module and every EventBridge PutEvents task to a local event log.
 *
 * The host also plays the part of the Step Functions API that the run-slot Lambda queries
 * (ListExecutions RUNNING): it knows which of its executions are running, so two local triggers
 * meet the same mutual exclusion as two triggers on AWS.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { StateMachine } from 'aws-local-stepfunctions';

/** The execution's event log, as aws-local-stepfunctions produces it. */
export type ExecutionEvents = ReturnType<StateMachine['run']>['eventLogs'];
export type ExecutionEvent = ExecutionEvents extends AsyncGenerator<infer E> ? E : never;

import { type AslDefinition, allStates, LOCAL_ACCOUNT, LOCAL_REGION, logicalIdOfLambdaArn } from './definition';

interface StartExecutionParameters {
  readonly StateMachineArn: string;
  readonly Input?: unknown;
  readonly Name?: string;
}

/** A Lambda handler as the Node.js runtime calls it. */
export type LambdaHandler = (event: unknown, context: Context) => Promise<unknown>;

export interface PutEventsEntry {
  readonly Source?: string;
  readonly DetailType?: string;
  readonly Detail?: string;
  readonly EventBusName?: string;
}
/** Where PutEvents tasks deliver locally (a file, a list in a test, ...). */
export type LocalEventBus = (entries: PutEventsEntry[]) => Promise<void> | void;

export interface RunningExecution {
  readonly executionArn: string;
  readonly startDate: Date;
}

/** What Step Functions reports to EventBridge when an execution ends (source aws.states). */
export interface ExecutionStatusChange {
  readonly executionArn: string;
  readonly stateMachineArn: string;
  readonly name: string;
  readonly status: 'SUCCEEDED' | 'FAILED' | 'ABORTED' | 'TIMED_OUT';
  readonly startDate: number;
  readonly stopDate: number;
  readonly input: string;
  readonly output: string | null;
  readonly error: string | null;
  readonly cause: string | null;
}

export interface LocalHostProps {
  readonly definition: AslDefinition;
  readonly stateMachineName: string;
  /** The ARN the definition's own tokens resolved to (so rules and the run slot agree). */
  readonly stateMachineArn: string;
  /** Called once per execution when it ends, like the aws.states status-change event. */
  readonly onExecutionEnd?: (change: ExecutionStatusChange) => void;
  /** Handler per Lambda logical id (from the template). */
  readonly lambdaHandlers: Readonly<Record<string, LambdaHandler>>;
  readonly eventBus: LocalEventBus;
  /** Wait state durations in ms by state name (a local poll need not wait a minute). */
  readonly waitOverridesMs?: Readonly<Record<string, number>>;
  /** Retry pauses in ms by state name. */
  readonly retryOverridesMs?: Readonly<Record<string, number | number[]>>;
  /** What context.getRemainingTimeInMillis() starts from in each invocation. @default 900000 (Lambda's maximum) */
  readonly lambdaBudgetMs?: number;
  /** Starts an execution of another local state machine (StartExecution tasks), by its ARN. */
  readonly startExecution?: (stateMachineArn: string, input: unknown, name?: string) => LocalExecution;
}

/** A state's Retry field and the host's override of its pauses: what the progress needs to say when a retry starts. */
export interface RetryPlan {
  readonly retriers: ReadonlyArray<{
    readonly ErrorEquals?: readonly string[];
    readonly IntervalSeconds?: number;
    readonly MaxAttempts?: number;
    readonly BackoffRate?: number;
    readonly MaxDelaySeconds?: number;
  }>;
  /** The pause in ms, for every retrier or one per retrier (LocalHostProps.retryOverridesMs). */
  readonly overrideMs?: number | readonly number[];
}

/** The retry plan of every state with a Retry field, nested ones included. */
export function retryPlansOf(
  definition: AslDefinition,
  overridesMs: Readonly<Record<string, number | number[]>> = {},
): Record<string, RetryPlan> {
  return Object.fromEntries(
    allStates(definition)
      .filter(([, state]) => Array.isArray(state.Retry) && state.Retry.length > 0)
      .map(([name, state]) => [
        name,
        { retriers: state.Retry as RetryPlan['retriers'], overrideMs: overridesMs[name] } satisfies RetryPlan,
      ]),
  );
}

export interface LocalExecution {
  readonly executionArn: string;
  readonly name: string;
  readonly startDate: Date;
  /** Resolves with the output, rejects with the execution error (its `name` and `message`). */
  readonly result: Promise<unknown>;
  readonly events: ExecutionEvents;
  readonly abort: () => void;
  /** The Retry of each state and the host's overrides, by state name. @default none known */
  readonly retryPlans?: Readonly<Record<string, RetryPlan>>;
}

export class LocalStateMachineHost {
  readonly stateMachineArn: string;
  private readonly machine: StateMachine;
  private readonly running = new Map<string, RunningExecution>();

  constructor(private readonly props: LocalHostProps) {
    this.stateMachineArn = props.stateMachineArn;
    this.machine = new StateMachine(props.definition as never, {
      validationOptions: { checkArn: true, checkPaths: true },
    });
  }

  /** ListExecutions(statusFilter RUNNING) of this host's state machine. */
  listRunning(stateMachineArn: string): RunningExecution[] {
    if (stateMachineArn !== this.stateMachineArn) return [];
    return [...this.running.values()];
  }

  start(input: unknown, name: string = randomUUID()): LocalExecution {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
      throw new Error(`execution name "${name}": expected 1-80 letters, digits, - or _ (as Step Functions requires)`);
    }
    const executionArn = `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:execution:${this.props.stateMachineName}:${name}`;
    if (this.running.has(executionArn)) throw new Error(`execution ${name} is already running`);
    const startDate = new Date();
    this.running.set(executionArn, { executionArn, startDate });
    const run = this.machine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: this.taskHandlers(name) as never,
        waitTimeOverrides: { ...this.props.waitOverridesMs },
        retryIntervalOverrides: { ...this.props.retryOverridesMs },
      },
      context: {
        Execution: { Id: executionArn, Name: name, StartTime: startDate.toISOString(), Input: input },
        StateMachine: { Id: this.stateMachineArn, Name: this.props.stateMachineName },
      } as never,
    });
    const report = (status: ExecutionStatusChange['status'], output: unknown, error?: Error) => {
      this.running.delete(executionArn);
      this.props.onExecutionEnd?.({
        executionArn,
        stateMachineArn: this.stateMachineArn,
        name,
        status,
        startDate: startDate.getTime(),
        stopDate: Date.now(),
        input: JSON.stringify(input ?? {}),
        output: output === undefined ? null : JSON.stringify(output),
        error: error ? errorName(error) : null,
        cause: error ? errorCause(error) : null,
      });
    };
    const result = run.result.then(
      (output) => {
        report('SUCCEEDED', output);
        return output;
      },
      (error: Error) => {
        report(
          /abort/i.test(error.name) ? 'ABORTED' : /timeout/i.test(error.name) ? 'TIMED_OUT' : 'FAILED',
          undefined,
          error,
        );
        throw error;
      },
    );
    result.catch(() => undefined); // the caller observes the failure; avoid an unhandled rejection
    return {
      executionArn,
      name,
      startDate,
      result,
      events: run.eventLogs,
      abort: run.abort,
      retryPlans: retryPlansOf(this.props.definition, this.props.retryOverridesMs),
    };
  }

  /** One local function per Task state, chosen by the state's Resource. */
  private taskHandlers(executionName: string): Record<string, (input: unknown) => Promise<never>> {
    const bound: Record<string, (input: unknown) => Promise<never>> = {};
    for (const [stateName, state] of allStates(this.props.definition)) {
      if (state.Type !== 'Task' || !state.Resource) continue;
      bound[stateName] = this.bindTask(stateName, state.Resource, executionName) as never;
    }
    return bound;
  }

  private bindTask(stateName: string, resource: string, executionName: string): (input: unknown) => Promise<unknown> {
    if (/^arn:aws:states:::lambda:invoke$/.test(resource)) {
      // The optimized integration: the override gets {FunctionName, Payload} and must answer with
      // the invoke envelope, so `$.Payload` selectors in the definition keep working.
      return async (parameters) => {
        const { FunctionName, Payload } = parameters as { FunctionName: string; Payload: unknown };
        const output = await this.invoke(stateName, FunctionName, Payload, executionName);
        return { Payload: output ?? null, StatusCode: 200, ExecutedVersion: '$LATEST' };
      };
    }
    if (logicalIdOfLambdaArn(resource)) {
      return (payload) => this.invoke(stateName, resource, payload, executionName);
    }
    if (/^arn:aws:states:::states:startExecution\.sync(:2)?$/.test(resource)) {
      return (parameters) => this.runChild(stateName, parameters as StartExecutionParameters, resource.endsWith(':2'));
    }
    if (/^arn:aws:states:::events:putEvents$/.test(resource)) {
      return async (parameters) => {
        const entries = (parameters as { Entries: PutEventsEntry[] }).Entries;
        await this.props.eventBus(entries);
        return { Entries: entries.map(() => ({ EventId: randomUUID() })), FailedEntryCount: 0 };
      };
    }
    throw new Error(`state ${stateName}: resource ${resource} has no local binding`);
  }

  /** StartExecution.sync: the child runs to its end; its failure fails the task with States.TaskFailed, as on AWS. */
  private async runChild(
    stateName: string,
    parameters: StartExecutionParameters,
    jsonOutput: boolean,
  ): Promise<unknown> {
    const start = this.props.startExecution;
    if (!start) throw new Error(`state ${stateName}: this host starts no other state machine`);
    const input = typeof parameters.Input === 'string' ? JSON.parse(parameters.Input) : parameters.Input;
    const child = start(parameters.StateMachineArn, input, parameters.Name);
    try {
      const output = await child.result;
      return {
        ExecutionArn: child.executionArn,
        StateMachineArn: parameters.StateMachineArn,
        Name: child.name,
        Status: 'SUCCEEDED',
        StartDate: child.startDate.getTime(),
        StopDate: Date.now(),
        Input: input,
        Output: jsonOutput ? output : JSON.stringify(output),
      };
    } catch (error) {
      const failure = new Error(
        `child execution ${child.name} failed: ${errorName(error as Error)}: ${errorCause(error as Error)}`,
      );
      failure.name = 'States.TaskFailed';
      throw failure;
    }
  }

  private async invoke(
    stateName: string,
    functionArn: string,
    payload: unknown,
    executionName: string,
  ): Promise<unknown> {
    const logicalId = logicalIdOfLambdaArn(functionArn);
    const handler = logicalId ? this.props.lambdaHandlers[logicalId] : undefined;
    if (!handler) throw new Error(`state ${stateName}: no local handler for ${functionArn}`);
    const started = Date.now();
    const context = {
      functionName: logicalId,
      functionVersion: '$LATEST',
      invokedFunctionArn: functionArn,
      awsRequestId: `${executionName}-${randomUUID()}`,
      memoryLimitInMB: '256',
      logGroupName: `/local/${logicalId}`,
      logStreamName: executionName,
      callbackWaitsForEmptyEventLoop: true,
      getRemainingTimeInMillis: () => Math.max(0, (this.props.lambdaBudgetMs ?? 900_000) - (Date.now() - started)),
      done: () => undefined,
      fail: () => undefined,
      succeed: () => undefined,
    } as unknown as Context;
    // A JSON round trip, as between Step Functions and Lambda: nothing but JSON crosses.
    return JSON.parse(JSON.stringify((await handler(JSON.parse(JSON.stringify(payload ?? null)), context)) ?? null));
  }
}

/**
 * The States-language error of a failed execution. aws-local-stepfunctions wraps it in an
 * ExecutionError whose `cause` is the runtime error carrying the original name and message.
 */
export function errorName(error: Error): string {
  const inner = (error as { cause?: unknown }).cause;
  if (inner instanceof Error && inner.name && inner.name !== 'Error') return inner.name;
  return error.name;
}

export function errorCause(error: Error): string {
  const inner = (error as { cause?: unknown }).cause;
  return inner instanceof Error ? inner.message : error.message;
}
