/**
 * A local stand-in for EventBridge that runs the template's own rules: each event put on a bus
 * is matched against the EventPattern of every `AWS::Events::Rule` of the synthesized template on
 * that bus (a rule without EventBusName is on the default bus), and for
 * each matching rule its SNS targets receive the message its InputTransformer builds, its
 * state machine targets are started with the rule's input, and its Lambda targets are invoked
 * asynchronously with the event (as EventBridge invokes them). So the alert and summary messages
 * seen locally are the ones the deployed rules would send, one state machine starts another
 * as it would on AWS, and S3's "Object Created" events (which the local stand-in publishes,
 * local-object-arrivals.ts) reach the same function as on AWS.
 */
import { appendFileSync } from 'node:fs';
import type { Environment } from '../../lambdas/core/env';
import { type MetricEmitter, metricEmitterFromEnv, type WarnLog } from '../../lambdas/core/metrics';
import type { CfnTemplate } from './definition';
import { LOCAL_ACCOUNT, LOCAL_REGION, resolveValue } from './definition';
import type { ExecutionStatusChange, PutEventsEntry } from './local-host';

export interface BusEvent {
  readonly source: string;
  readonly 'detail-type': string;
  readonly detail: Record<string, unknown>;
  readonly time?: string;
  readonly account?: string;
  readonly region?: string;
  readonly resources?: string[];
}

export interface Delivery {
  readonly rule: string;
  /** The logical id of the SNS topic the rule targets. */
  readonly topic: string;
  readonly message: string;
}

/** Starts an execution of the state machine with this logical id. */
export type StartExecution = (input: unknown) => void;

/** Invokes the function with this logical id (EventBridge's asynchronous invocation). */
export type InvokeFunction = (event: unknown) => Promise<unknown>;

/** An asynchronous invocation that failed: EventBridge would count it, Lambda retry it, then drop it. */
export interface FailedInvocation {
  readonly rule: string;
  readonly function: string;
  readonly error: string;
}

type Pattern = { [key: string]: Pattern | unknown[] };

/** The bus every event goes to when none is named, as on AWS. */
export const DEFAULT_BUS = 'default';

/** A bus as PutEvents and rules may name it (a name or an ARN) -> its name. */
export function busNameOf(nameOrArn: string | undefined): string {
  if (!nameOrArn) return DEFAULT_BUS;
  const match = /^arn:[^:]+:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(nameOrArn);
  return match ? match[1] : nameOrArn;
}

/** EventBridge matching for the subset our rules use: exact values in lists, nested objects, prefix. */
export function matchesPattern(pattern: Pattern, event: unknown): boolean {
  return Object.entries(pattern).every(([key, expected]) => {
    const actual = (event as Record<string, unknown> | null)?.[key];
    if (Array.isArray(expected)) {
      return expected.some((candidate) => {
        if (candidate !== null && typeof candidate === 'object') {
          const prefix = (candidate as { prefix?: unknown }).prefix;
          if (typeof prefix === 'string') return typeof actual === 'string' && actual.startsWith(prefix);
          throw new Error(`event pattern operator ${JSON.stringify(candidate)} is not supported locally`);
        }
        return Array.isArray(actual) ? actual.includes(candidate) : actual === candidate;
      });
    }
    return typeof expected === 'object' && expected !== null && matchesPattern(expected as Pattern, actual);
  });
}

function valueAtPath(event: unknown, path: string): unknown {
  if (!path.startsWith('$')) throw new Error(`input path ${path} must start with $`);
  return path
    .replace(/^\$\.?/, '')
    .split('.')
    .filter(Boolean)
    .reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], event);
}

/** InputTransformer: `<name>` placeholders of the template filled from InputPathsMap. */
export function transformInput(event: unknown, pathsMap: Record<string, string>, template: string): string {
  return template.replace(/<([A-Za-z0-9_.-]+)>/g, (whole, name: string) => {
    if (name === 'aws.events.event.json') return JSON.stringify(event);
    if (!(name in pathsMap)) return whole;
    const value = valueAtPath(event, pathsMap[name]);
    return typeof value === 'string' ? value : JSON.stringify(value ?? null);
  });
}

interface RuleTarget {
  readonly Arn: unknown;
  readonly Input?: string;
  /** InputTemplate is a string, or an intrinsic (Fn::Join) when the text names a resource such as a bucket. */
  readonly InputTransformer?: { InputPathsMap?: Record<string, string>; InputTemplate: unknown };
}

export class LocalEventBridge {
  readonly deliveries: Delivery[] = [];
  readonly events: BusEvent[] = [];
  /** The EMF documents the local functions wrote (CloudWatch would make metrics of them). */
  readonly metrics: Record<string, unknown>[] = [];
  /** The Lambda targets' invocations that threw. */
  readonly failedInvocations: FailedInvocation[] = [];
  private readonly stateMachines = new Map<string, StartExecution>();
  private readonly functions = new Map<string, InvokeFunction>();
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly template: CfnTemplate,
    /** Also append every event and delivery as JSON lines here (the local run's record). */
    private readonly logFile?: string,
  ) {}

  /** Rules targeting the state machine with this logical id start executions through `start`. */
  connectStateMachine(logicalId: string, start: StartExecution): void {
    this.stateMachines.set(logicalId, start);
  }

  /** Rules targeting the function with this logical id invoke it through `invoke`, without waiting for it. */
  connectFunction(logicalId: string, invoke: InvokeFunction): void {
    this.functions.set(logicalId, invoke);
  }

  /** Resolves once every function invocation started so far (and those they caused) has ended. */
  async settled(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Puts `event` on the bus named `bus` (a name or an ARN; the default bus when undefined). */
  put(event: BusEvent, bus?: string): Delivery[] {
    const stamped: BusEvent = {
      time: new Date().toISOString(),
      account: LOCAL_ACCOUNT,
      region: LOCAL_REGION,
      ...event,
    };
    const busName = busNameOf(bus);
    this.events.push(stamped);
    this.log({ kind: 'event', bus: busName, event: stamped });
    const delivered: Delivery[] = [];
    for (const [ruleId, resource] of Object.entries(this.template.Resources)) {
      if (resource.Type !== 'AWS::Events::Rule') continue;
      const properties = resource.Properties as {
        EventBusName?: unknown;
        EventPattern?: Pattern;
        State?: string;
        Targets?: RuleTarget[];
      };
      if (!properties.EventPattern || properties.State === 'DISABLED') continue;
      const ruleBus =
        properties.EventBusName === undefined ? undefined : resolveValue(this.template, properties.EventBusName);
      if (busNameOf(ruleBus) !== busName) continue;
      if (!matchesPattern(this.resolvePattern(properties.EventPattern), stamped)) continue;
      for (const target of properties.Targets ?? []) {
        const machine = (target.Arn as { Ref?: string } | null)?.Ref;
        const start = machine ? this.stateMachines.get(machine) : undefined;
        if (machine && start) {
          const input: unknown = target.Input ? JSON.parse(target.Input) : stamped;
          this.log({ kind: 'start', rule: ruleId, stateMachine: machine, input });
          start(input);
          continue;
        }
        const fn = this.functionOf(target.Arn);
        const invoke = fn ? this.functions.get(fn) : undefined;
        if (fn && invoke) {
          this.invokeAsync(ruleId, fn, invoke, target.Input ? JSON.parse(target.Input) : stamped);
          continue;
        }
        const topic = this.snsTopicOf(target.Arn);
        if (!topic) continue;
        const message = target.InputTransformer
          ? transformInput(
              stamped,
              target.InputTransformer.InputPathsMap ?? {},
              resolveValue(this.template, target.InputTransformer.InputTemplate),
            )
          : (target.Input ?? JSON.stringify(stamped));
        const delivery = { rule: ruleId, topic, message };
        delivered.push(delivery);
        this.deliveries.push(delivery);
        this.log({ kind: 'delivery', ...delivery });
      }
    }
    return delivered;
  }

  /** Records an EMF line a local function wrote, as `{"kind":"metrics","emf":{...}}` in the log file. */
  recordMetrics(line: string): void {
    const emf = JSON.parse(line) as Record<string, unknown>;
    this.metrics.push(emf);
    this.log({ kind: 'metrics', emf });
  }

  /**
   * Tokens in patterns become the same placeholders as in the ASL: a state machine's ARN, the
   * account (`AWS::AccountId`, the local account every event is stamped with), a joined ARN.
   */
  private resolvePattern(pattern: unknown): Pattern {
    const resolve = (value: unknown): unknown => {
      if (Array.isArray(value)) return value.map(resolve);
      if (value && typeof value === 'object') {
        if (['Ref', 'Fn::GetAtt', 'Fn::Join'].some((key) => key in value)) return resolveValue(this.template, value);
        return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, resolve(v)]));
      }
      return value;
    };
    return resolve(pattern) as Pattern;
  }

  /** As Lambda runs an asynchronous invocation: the caller does not wait, a failure is recorded. */
  private invokeAsync(rule: string, fn: string, invoke: InvokeFunction, event: unknown): void {
    this.log({ kind: 'invoke', rule, function: fn });
    const done: Promise<void> = Promise.resolve()
      .then(() => invoke(JSON.parse(JSON.stringify(event))))
      .then(
        () => undefined,
        (error: Error) => {
          const failed = { rule, function: fn, error: `${error.name}: ${error.message}` };
          this.failedInvocations.push(failed);
          this.log({ kind: 'invoke-failed', ...failed });
        },
      )
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  /** The logical id of a Lambda function target (`Fn::GetAtt [id, Arn]`). */
  private functionOf(arn: unknown): string | undefined {
    const getAtt = (arn as { 'Fn::GetAtt'?: unknown } | null)?.['Fn::GetAtt'];
    if (!Array.isArray(getAtt) || getAtt[1] !== 'Arn' || typeof getAtt[0] !== 'string') return undefined;
    return this.template.Resources[getAtt[0]]?.Type === 'AWS::Lambda::Function' ? getAtt[0] : undefined;
  }

  private snsTopicOf(arn: unknown): string | undefined {
    const ref = (arn as { Ref?: unknown } | null)?.Ref;
    if (typeof ref === 'string' && this.template.Resources[ref]?.Type === 'AWS::SNS::Topic') return ref;
    return undefined;
  }

  private log(entry: Record<string, unknown>): void {
    if (this.logFile) appendFileSync(this.logFile, `${JSON.stringify(entry)}\n`);
  }
}

/** How a local host reaches the bus: PutEvents tasks, and the aws.states status change of each ended execution. */
export function hostBusBindings(bus: LocalEventBridge): {
  eventBus: (entries: PutEventsEntry[]) => void;
  onExecutionEnd: (change: ExecutionStatusChange) => void;
} {
  return {
    eventBus: (entries) => {
      for (const entry of entries) {
        const detail = typeof entry.Detail === 'string' ? JSON.parse(entry.Detail) : (entry.Detail ?? {});
        bus.put({ source: entry.Source ?? '', 'detail-type': entry.DetailType ?? '', detail }, entry.EventBusName);
      }
    },
    onExecutionEnd: (change) =>
      void bus.put({
        source: 'aws.states',
        'detail-type': 'Step Functions Execution Status Change',
        detail: { ...change },
        resources: [change.executionArn],
      }),
  };
}

/**
 * The metrics of a local function, from its environment as the template sets it (QP_STACK_NAME):
 * each EMF line goes to `record` (e.g. the Lambda log file, as on AWS to CloudWatch Logs, and the
 * bus's record of the run).
 */
export function localMetricEmitter(env: Environment, log: WarnLog, record: (line: string) => void): MetricEmitter {
  return metricEmitterFromEnv(env, { log, sink: record });
}
