/**
 * "vqe batch generation": a parent state machine (plan -> optional image build -> the lanes side
 * by side, each lane's chunks one after another -> summary -> "VQE Batch Finished") and a chunk
 * state machine, started once per chunk, that launches and polls its runs one at a time. Chunks
 * keep every history under Step Functions' 25,000 events and every payload small: the run lists
 * themselves stay in S3.
 *
 * State names are a contract: the embedded local runner and the tests address states by name.
 */
import { ArnFormat, Duration, Stack, Token } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { describeIssues, ERROR_NAMES } from '../../lambdas/core/contract';
import {
  argumentProblems,
  BATCH_ENV,
  BATCH_EVENT_DETAIL_TYPE,
  BATCH_EVENT_SOURCE,
  BatchSettings,
  buildDocumentContent,
  describeProblems,
  dockerRunOptionProblems,
  HOST_PATH,
  imageReferenceProblem,
  LANE_DEVICES_PATTERN,
  LANES,
  type Lane,
  runDocumentContent,
  type SsmLauncherSpec,
} from '../../lambdas/vqe-batch/contract';
import { assertFitsHistory, itemsWithin, pollingEvents, pollsWithin } from '../common/history-budget';
import {
  acknowledge,
  acknowledgeStateMachine,
  acknowledgeUnscopedActions,
  S3_PUT_ACTIONS,
  S3_READ_ACTIONS,
  wildcardActions,
  wildcardResource,
} from '../common/nag';
import { type LogLevel, pipelineFunction, roleOf } from '../common/pipeline-function';

/** Of Step Functions' 25,000 events per execution, what a chunk's runs may use; the rest is a margin for the chunk's own start and end. */
const HISTORY_BUDGET = 24_000;
/** History events of one run without polls (launch task, choice, next-run pass), and per poll (wait, check task, choice). */
const EVENTS_PER_RUN = 9;
const EVENTS_PER_POLL = 10;
/** A chunk holds at most this many runs, however few events each takes. */
const MAX_CHUNK_SIZE = 100;
const DEFAULT_RUN_TIMEOUT = Duration.hours(2);
const DEFAULT_POLL_INTERVAL = Duration.seconds(60);
const DEFAULT_STATE_PREFIX = 'vqe-batch/';
const DEFAULT_RUN_SLOT_RETRY = { intervalSeconds: 300, backoffRate: 1.5, maxAttempts: 12 } as const;

/** The lanes' GPUs when none are configured: one GPU each, so the two GPU lanes never share one. */
const DEFAULT_LANE_DEVICES = { gpu1: 'device=0', gpu2: 'device=1' } as const;

/**
 * The GPU host reached through SSM Run Command. The construct deploys the SSM Command documents
 * the runs (and the image build) are sent with; the image repository, the docker run options and
 * the build folder are fixed in them, and the functions may send nothing else.
 */
export interface VqeBatchSsmLauncher {
  readonly kind: 'ssm';
  readonly target: SsmLauncherSpec['target'];
  /** The simulation image, `[registry[:port]/]repository[:tag][@sha256:digest]`; the run document accepts this repository only. */
  readonly image: string;
  /** Each GPU lane's `--gpus` device spec, `all` or `device=N[,M]`; the cpu lane gets no GPU. @default { gpu1: 'device=0', gpu2: 'device=1' } */
  readonly laneDevices?: SsmLauncherSpec['laneDevices'];
  /** More `docker run` options, from an allowlist (--shm-size, --ipc, --ulimit, --network, -e, -v, ...). @default none */
  readonly dockerRunOptions?: readonly string[];
  /** `docker build` of the image on the host before a batch. @default no build document */
  readonly build?: SsmLauncherSpec['build'];
}

export type VqeBatchLauncher = VqeBatchSsmLauncher | { readonly kind: 'local' };

export interface VqeBatchProps {
  readonly stateMachineName: string;
  /** Holds the per-run state, plans and batch records. */
  readonly stateBucket: s3.IBucket;
  /** @default 'vqe-batch/' */
  readonly statePrefix?: string;
  /** S3-compatible endpoint of the state bucket (local profile). @default the SDK's AWS endpoint */
  readonly stateEndpoint?: { readonly endpoint: string; readonly region: string };
  readonly launcher: VqeBatchLauncher;
  /** The molecules file of each lane, as the simulation sees it. */
  readonly moleculesFiles: Readonly<Record<Lane, string>>;
  /** Arguments after SPEC section 5's. @default none */
  readonly extraArgs?: readonly string[];
  /** A run still going after this is stopped and recorded timed_out. @default 2 hours */
  readonly runTimeout?: Duration;
  /** @default 60 seconds */
  readonly pollInterval?: Duration;
  /** Runs per child execution. @default as many as fit 24,000 history events when every run times out (at most 100) */
  readonly chunkSize?: number;
  /** @default the account's default bus */
  readonly eventBus?: events.IEventBus;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** LOG_LEVEL of the functions. @default 'INFO' */
  readonly logLevel?: LogLevel;
  /**
   * How a batch started while another runs waits for it (PipelineBusyError retries of PlanBatch);
   * after the last attempt it fails with PipelineBusyError.
   * @default every 300 s, backoff 1.5, 12 attempts (about 21 hours)
   */
  readonly runSlotRetry?: {
    readonly intervalSeconds: number;
    readonly backoffRate: number;
    readonly maxAttempts: number;
  };
}

/** The run timing the props come to, checked against the history budget. */
interface BatchTiming {
  readonly runTimeoutSeconds: number;
  readonly pollSeconds: number;
  readonly chunkSize: number;
}

type FunctionName = 'plan' | 'start-run' | 'check-run' | 'image-build' | 'summary';

export class VqeBatch extends Construct {
  readonly stateMachineName: string;
  readonly functions: Readonly<Record<FunctionName, nodejs.NodejsFunction>>;
  readonly stateMachine: sfn.StateMachine;
  readonly chunkStateMachine: sfn.StateMachine;
  /** What the functions are deployed with (BATCH_SETTINGS). */
  readonly settings: BatchSettings;
  /** The SSM Command documents the functions may send (SSM launcher only). */
  readonly documents?: { readonly run: ssm.CfnDocument; readonly build?: ssm.CfnDocument };
  private readonly failure: sfn.Fail;
  private readonly retention: logs.RetentionDays;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: VqeBatchProps,
  ) {
    super(scope, id);
    const { runTimeoutSeconds, pollSeconds, chunkSize } = VqeBatch.validateProps(props);
    this.stateMachineName = props.stateMachineName;
    this.retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    if (props.launcher.kind === 'ssm') this.documents = this.makeDocuments(props.launcher);
    this.settings = this.validatedSettings(runTimeoutSeconds, pollSeconds, chunkSize);

    const env = { [BATCH_ENV.settings]: JSON.stringify(this.settings) };
    const make = (id: string, handler: string, seconds: number) =>
      pipelineFunction(this, id, {
        handler,
        timeout: Duration.seconds(seconds),
        environment: env,
        logRetention: props.logRetention,
        logLevel: props.logLevel,
      });
    this.functions = {
      plan: make('VqeBatchPlan', 'lambdas/vqe-batch/handlers/plan.ts', 300),
      'start-run': make('VqeBatchStartRun', 'lambdas/vqe-batch/handlers/start-run.ts', 60),
      'check-run': make('VqeBatchCheckRun', 'lambdas/vqe-batch/handlers/check-run.ts', 60),
      'image-build': make('VqeBatchImageBuild', 'lambdas/vqe-batch/handlers/image-build.ts', 60),
      summary: make('VqeBatchSummary', 'lambdas/vqe-batch/handlers/summary.ts', 300),
    };
    this.grant();
    this.grantRunSlot();

    this.chunkStateMachine = this.makeMachine(
      'Chunk',
      `${props.stateMachineName}-chunk`,
      this.chunkDefinition(pollSeconds),
      Duration.seconds(chunkSize * (runTimeoutSeconds + 2 * pollSeconds) + 3600),
    );
    acknowledgeStateMachine(
      this.chunkStateMachine,
      [this.functions['start-run'], this.functions['check-run']],
      "the batch's",
    );
    this.failure = new sfn.Fail(this, 'BatchFailed', { errorPath: '$.failure.Error', causePath: '$.failure.Cause' });
    const definition = this.planPhase(pollSeconds);
    this.stateMachine = this.makeMachine('StateMachine', props.stateMachineName, definition, Duration.days(21));
    this.acknowledgeParentMachine();
  }

  /**
   * Checks the props, naming the prop and the value, before anything is built. A chunk's runs
   * must fit its history: each run may poll until its timeout.
   * @returns the timing of the runs, defaults applied
   */
  private static validateProps(props: VqeBatchProps): BatchTiming {
    if (!/^[A-Za-z0-9_-]{1,74}$/.test(props.stateMachineName)) {
      throw new Error(
        `VqeBatch: stateMachineName must be 1-74 letters, digits, - or _ (the chunk machine adds -chunk), got ${JSON.stringify(props.stateMachineName)}`,
      );
    }
    const runTimeoutSeconds = (props.runTimeout ?? DEFAULT_RUN_TIMEOUT).toSeconds();
    const pollSeconds = (props.pollInterval ?? DEFAULT_POLL_INTERVAL).toSeconds();
    if (pollSeconds < 1 || pollSeconds > runTimeoutSeconds) {
      throw new Error(
        `VqeBatch: pollInterval must be from 1 s up to runTimeout (${runTimeoutSeconds} s), got ${pollSeconds} s`,
      );
    }
    const eventsPerRun = pollingEvents({
      timeoutSeconds: runTimeoutSeconds,
      pollSeconds,
      eventsPerPoll: EVENTS_PER_POLL,
      fixedEvents: EVENTS_PER_RUN,
    });
    assertFitsHistory(
      eventsPerRun,
      HISTORY_BUDGET,
      () =>
        `VqeBatch: runTimeout (${runTimeoutSeconds} s) / pollInterval (${pollSeconds} s) allows ` +
        `${pollsWithin(runTimeoutSeconds, pollSeconds)} polls per run, more than one chunk's history holds; poll less often`,
    );
    const fitting = itemsWithin(HISTORY_BUDGET, eventsPerRun);
    const chunkSize = props.chunkSize ?? Math.min(MAX_CHUNK_SIZE, fitting);
    if (!Number.isInteger(chunkSize) || chunkSize < 1 || chunkSize > fitting) {
      throw new Error(
        `VqeBatch: chunkSize must be a whole number from 1 to ${fitting} (a run may poll up to ` +
          `${eventsPerRun} history events; a chunk must stay under ${HISTORY_BUDGET}), got ${chunkSize}`,
      );
    }
    VqeBatch.validateHostCommands(props);
    const slot = props.runSlotRetry;
    if (
      slot &&
      !(
        Number.isInteger(slot.intervalSeconds) &&
        slot.intervalSeconds >= 1 &&
        slot.backoffRate >= 1 &&
        slot.backoffRate <= 10 &&
        Number.isInteger(slot.maxAttempts) &&
        slot.maxAttempts >= 0 &&
        slot.maxAttempts <= 99
      )
    ) {
      throw new Error(
        `VqeBatch: runSlotRetry must have a whole intervalSeconds >= 1, a backoffRate from 1 to 10 and a whole maxAttempts from 0 to 99, got ${JSON.stringify(slot)}`,
      );
    }
    return { runTimeoutSeconds, pollSeconds, chunkSize };
  }

  /**
   * What reaches the GPU host: an image reference (not an option such as --privileged), docker
   * run options from the allowlist, simulation arguments the run document accepts, no inline
   * secrets, and a GPU device spec per lane.
   */
  private static validateHostCommands(props: VqeBatchProps): void {
    const extraArgs = props.extraArgs ?? [];
    // A token (a bucket name) is known at deploy time only; the launcher checks the value before each run.
    const argProblems = argumentProblems(extraArgs).filter(({ index }) => !Token.isUnresolved(extraArgs[index]));
    const problems = describeProblems('extraArgs', argProblems);
    const { launcher } = props;
    if (launcher.kind === 'ssm') {
      const imageProblem = imageReferenceProblem(launcher.image);
      if (imageProblem) problems.push(`launcher.image: ${imageProblem}, got ${JSON.stringify(launcher.image)}`);
      problems.push(
        ...describeProblems('launcher.dockerRunOptions', dockerRunOptionProblems(launcher.dockerRunOptions ?? [])),
      );
      for (const [lane, device] of Object.entries(launcher.laneDevices ?? {})) {
        if (!LANE_DEVICES_PATTERN.test(device)) {
          problems.push(`launcher.laneDevices.${lane}: expected all or device=N[,M], got ${JSON.stringify(device)}`);
        }
      }
      for (const [lane, file] of Object.entries(props.moleculesFiles)) {
        if (argumentProblems(['--file', file]).length > 0) {
          problems.push(
            `moleculesFiles.${lane}: expected a path of letters, digits and _.,:/+=@- (it is a run argument), got ${JSON.stringify(file)}`,
          );
        }
      }
      for (const key of ['contextDir', 'dockerfile'] as const) {
        const path = launcher.build?.[key];
        if (path !== undefined && !HOST_PATH.test(path)) {
          problems.push(
            `launcher.build.${key}: expected a path of letters, digits, spaces and _.@+/-, got ${JSON.stringify(path)}`,
          );
        }
      }
    }
    if (problems.length > 0) throw new Error(`VqeBatch: ${problems.join('; ')}`);
  }

  /** The SSM Command documents: run/stop a container, and the image build when configured. */
  private makeDocuments(launcher: VqeBatchSsmLauncher): NonNullable<VqeBatch['documents']> {
    const run = new ssm.CfnDocument(this, 'RunDocument', {
      documentType: 'Command',
      documentFormat: 'JSON',
      content: runDocumentContent({ image: launcher.image, dockerRunOptions: launcher.dockerRunOptions ?? [] }),
    });
    if (!launcher.build) return { run };
    const build = new ssm.CfnDocument(this, 'BuildDocument', {
      documentType: 'Command',
      documentFormat: 'JSON',
      content: buildDocumentContent({ image: launcher.image, ...launcher.build }),
    });
    return { run, build };
  }

  private validatedSettings(runTimeoutSeconds: number, pollIntervalSeconds: number, chunkSize: number): BatchSettings {
    const { props } = this;
    const { documents } = this;
    const launcher =
      props.launcher.kind === 'ssm' && documents
        ? {
            kind: 'ssm',
            target: props.launcher.target,
            image: props.launcher.image,
            documents: { run: documents.run.ref, ...(documents.build ? { build: documents.build.ref } : {}) },
            laneDevices: props.launcher.laneDevices ?? DEFAULT_LANE_DEVICES,
            commandTimeoutSeconds: runTimeoutSeconds + 600,
            ...(props.launcher.build ? { build: props.launcher.build } : {}),
          }
        : { kind: 'local' };
    const candidate = {
      stateBucket: props.stateBucket.bucketName,
      statePrefix: props.statePrefix ?? DEFAULT_STATE_PREFIX,
      ...(props.stateEndpoint
        ? { s3Endpoint: props.stateEndpoint.endpoint, s3Region: props.stateEndpoint.region }
        : {}),
      launcher,
      moleculesFiles: { ...props.moleculesFiles },
      extraArgs: [...(props.extraArgs ?? [])],
      runTimeoutSeconds,
      pollIntervalSeconds,
      chunkSize,
    };
    // The same schema the functions check at load: a setting they would refuse fails the synth.
    // Every lane needs its molecules file: the record's keys are the enum, all of them required.
    const result = BatchSettings.safeParse(candidate);
    if (!result.success) throw new Error(`VqeBatch: invalid settings: ${describeIssues(result.error, candidate)}`);
    return result.data;
  }

  private grant(): void {
    const { stateBucket } = this.props;
    const prefix = this.settings.statePrefix;
    for (const fn of Object.values(this.functions)) {
      stateBucket.grantRead(fn, `${prefix}*`);
      acknowledge(
        roleOf(fn),
        wildcardActions(S3_READ_ACTIONS),
        'grantRead action groups of CDK, limited to the batch state prefix',
      );
      acknowledge(
        roleOf(fn),
        [wildcardResource(this, stateBucket.arnForObjects(`${prefix}*`))],
        'the batch state: run states, done markers and plans, named by run keys and batch ids',
      );
    }
    const writes: Array<[FunctionName, string, string]> = [
      ['plan', 'batches/*', 'one plan object per lane and batch, named by the batch id'],
      ['start-run', 'runs/*', 'one state object per run, named by its run key'],
      ['check-run', 'runs/*', 'one state object per run, named by its run key'],
      ['check-run', 'done/*', 'one marker per finished run, named by its run key'],
    ];
    for (const [name, suffix, reason] of writes) {
      const fn = this.functions[name];
      stateBucket.grantPut(fn, `${prefix}${suffix}`);
      acknowledge(
        roleOf(fn),
        wildcardActions(S3_PUT_ACTIONS),
        'grantPut action group of CDK, limited to the batch state prefix',
      );
      acknowledge(roleOf(fn), [wildcardResource(this, stateBucket.arnForObjects(`${prefix}${suffix}`))], reason);
    }
    const { launcher } = this.settings;
    if (launcher.kind === 'ssm') this.grantSsm(launcher);
  }

  /**
   * SendCommand on the stack's own documents and the GPU host only (never AWS-RunShellScript): the
   * run steps the run document, the image build the build document; status reads and cancels have
   * no resource-level scope.
   */
  private grantSsm(launcher: SsmLauncherSpec): void {
    const stack = Stack.of(this);
    const { run, build } = this.documents ?? {};
    const senders: Array<[nodejs.NodejsFunction, ssm.CfnDocument | undefined]> = [
      [this.functions['start-run'], run],
      [this.functions['check-run'], run],
      [this.functions['image-build'], build],
    ];
    // What each step calls besides SendCommand (lambdas/vqe-batch/launchers/ssm.ts): start-run
    // launches only; check-run polls and stops its run; image-build polls its build. Whoever
    // launches looks a tagged host up (DescribeInstanceInformation); check-run reuses the handle's.
    const statusActions = new Map<nodejs.NodejsFunction, readonly string[]>([
      [this.functions['start-run'], []],
      [this.functions['check-run'], ['ssm:GetCommandInvocation', 'ssm:CancelCommand']],
      [this.functions['image-build'], ['ssm:GetCommandInvocation']],
    ]);
    const resolvesHost = new Set([this.functions['start-run'], this.functions['image-build']]);
    for (const [fn, document] of senders) {
      if (!document) continue;
      const documentArn = stack.formatArn({ service: 'ssm', resource: 'document', resourceName: document.ref });
      fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [documentArn] }));
      const status = statusActions.get(fn) ?? [];
      const unscoped = [...status];
      if ('instanceId' in launcher.target) {
        const { instanceId } = launcher.target;
        const host = instanceId.startsWith('mi-')
          ? stack.formatArn({ service: 'ssm', resource: 'managed-instance', resourceName: instanceId })
          : stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: instanceId });
        fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['ssm:SendCommand'], resources: [host] }));
      } else {
        const { key, value } = launcher.target.tag;
        const hosts = [
          stack.formatArn({ service: 'ec2', resource: 'instance', resourceName: '*' }),
          stack.formatArn({ service: 'ssm', resource: 'managed-instance', resourceName: '*' }),
        ];
        fn.addToRolePolicy(
          new iam.PolicyStatement({
            actions: ['ssm:SendCommand'],
            resources: hosts,
            conditions: { StringEquals: { [`ssm:resourceTag/${key}`]: value } },
          }),
        );
        acknowledge(
          roleOf(fn),
          hosts.map((host) => wildcardResource(this, host)),
          `SendCommand to the GPU hosts tagged ${key}=${value} only (ssm:resourceTag condition)`,
        );
        if (resolvesHost.has(fn)) {
          fn.addToRolePolicy(
            new iam.PolicyStatement({ actions: ['ssm:DescribeInstanceInformation'], resources: ['*'] }),
          );
          unscoped.push('ssm:DescribeInstanceInformation');
        }
      }
      if (status.length > 0) fn.addToRolePolicy(new iam.PolicyStatement({ actions: [...status], resources: ['*'] }));
      if (unscoped.length > 0)
        acknowledgeUnscopedActions(
          roleOf(fn),
          unscoped,
          'SSM GetCommandInvocation, CancelCommand and DescribeInstanceInformation have no resource-level scope',
        );
    }
  }

  /** The planner lists the running batches of its own machine (by name: the machine refers to the planner). */
  private grantRunSlot(): void {
    const machine = Stack.of(this).formatArn({
      service: 'states',
      resource: 'stateMachine',
      resourceName: this.props.stateMachineName,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    this.functions.plan.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['states:ListExecutions'], resources: [machine] }),
    );
  }

  /** The parent's findings: its own functions, and StartExecution.sync describing and stopping the chunk executions. */
  private acknowledgeParentMachine(): void {
    acknowledgeStateMachine(
      this.stateMachine,
      [this.functions.plan, this.functions['image-build'], this.functions.summary],
      "the batch's",
    );
    // The same expression StepFunctionsStartExecution grants DescribeExecution/StopExecution on.
    const stack = Stack.of(this);
    const chunkName = stack.splitArn(
      this.chunkStateMachine.stateMachineArn,
      ArnFormat.COLON_RESOURCE_NAME,
    ).resourceName;
    const executions = stack.formatArn({
      service: 'states',
      resource: 'execution',
      resourceName: `${chunkName}*`,
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    acknowledge(
      this.stateMachine.role,
      [wildcardResource(this, executions)],
      'StartExecution.sync describes and stops the chunk executions it starts; their names are generated',
    );
  }

  private makeMachine(id: string, name: string, definition: sfn.IChainable, timeout: Duration): sfn.StateMachine {
    const logGroup = new logs.LogGroup(this, `${id}Logs`, { retention: this.retention });
    return new sfn.StateMachine(this, id, {
      stateMachineName: name,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout,
      tracingEnabled: true,
      // ALL levels, without execution data: a batch makes many thousands of transitions, and the run states are in S3 anyway.
      logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false },
    });
  }

  private invoke(
    scope: Construct,
    id: string,
    fn: FunctionName,
    payload: sfn.TaskInput,
    resultPath: string,
  ): tasks.LambdaInvoke {
    const task = new tasks.LambdaInvoke(scope, id, {
      lambdaFunction: this.functions[fn],
      payload,
      resultSelector: { 'result.$': '$.Payload' },
      resultPath,
      retryOnServiceExceptions: true,
    });
    task.addRetry({ errors: [ERROR_NAMES.invalidInput], maxAttempts: 0 });
    task.addRetry({
      errors: [ERROR_NAMES.launcherUnavailable],
      interval: Duration.seconds(30),
      backoffRate: 2,
      maxAttempts: 5,
    });
    // Anything else (an S3 hiccup, a throttled API): a couple of quick retries.
    task.addRetry({ errors: ['States.ALL'], interval: Duration.seconds(10), backoffRate: 2, maxAttempts: 2 });
    return task;
  }

  /** The chunk machine: launch the run at the cursor, poll it to its end, move the cursor, until the chunk's end. */
  private chunkDefinition(pollSeconds: number): sfn.IChainable {
    const chunk = new Construct(this, 'ChunkStates');
    const cursor = {
      'batch.$': '$.batch',
      'lane.$': '$.lane',
      'start.$': '$.start',
      'cursor.$': '$.cursor',
      'end.$': '$.end',
    };
    const start = this.invoke(chunk, 'StartRun', 'start-run', sfn.TaskInput.fromObject(cursor), '$.turn');
    const check = this.invoke(
      chunk,
      'CheckRun',
      'check-run',
      sfn.TaskInput.fromObject({ ...cursor, 'run.$': '$.turn.result' }),
      '$.check',
    );
    const next = new sfn.Pass(chunk, 'NextRun', {
      parameters: { ...cursor, 'cursor.$': 'States.MathAdd($.cursor, 1)' },
    });
    // A step that keeps failing gives up on its run, never on the lane: the run stays in_progress
    // (pending for the next batch) and the error is in the function's log.
    const skip = new sfn.Pass(chunk, 'SkipRun', {
      parameters: { ...cursor, 'cursor.$': 'States.MathAdd($.cursor, 1)' },
    });
    start.addCatch(skip, { resultPath: '$.error' });
    check.addCatch(skip, { resultPath: '$.error' });
    // Past the end, StartRun only reports the tally; if even that keeps failing, the chunk fails
    // (its runs stay pending for the next batch) instead of skipping forever.
    skip.next(
      new sfn.Choice(chunk, 'CanGoOn')
        .when(sfn.Condition.numberLessThanEqualsJsonPath('$.cursor', '$.end'), start)
        .otherwise(
          new sfn.Fail(chunk, 'ChunkStepsFailed', {
            error: 'ChunkStepsFailedError',
            cause: "the steps of this chunk kept failing; see the functions' logs",
          }),
        ),
    );
    next.next(start);
    const wait = new sfn.Wait(chunk, 'WaitForRun', { time: sfn.WaitTime.duration(Duration.seconds(pollSeconds)) });
    const done = new sfn.Succeed(chunk, 'ChunkDone', { outputPath: '$.turn.result.chunk' });
    wait
      .next(check)
      .next(
        new sfn.Choice(chunk, 'HasRunEnded')
          .when(sfn.Condition.booleanEquals('$.check.result.ended', true), next)
          .otherwise(wait),
      );
    return start.next(
      new sfn.Choice(chunk, 'IsChunkFinished')
        .when(sfn.Condition.booleanEquals('$.turn.result.finished', true), done)
        .when(sfn.Condition.booleanEquals('$.turn.result.ended', true), next)
        .otherwise(wait),
    );
  }

  private planPhase(pollSeconds: number): sfn.IChainable {
    const plan = new tasks.LambdaInvoke(this, 'PlanBatch', {
      lambdaFunction: this.functions.plan,
      payload: sfn.TaskInput.fromObject({
        'input.$': '$$.Execution.Input',
        'executionName.$': '$$.Execution.Name',
        'startTime.$': '$$.Execution.StartTime',
        'executionArn.$': '$$.Execution.Id',
        'stateMachineArn.$': '$$.StateMachine.Id',
      }),
      resultSelector: { 'plan.$': '$.Payload' },
      // The plan replaces the raw input: later states read $.plan only.
      resultPath: '$.planned',
      outputPath: '$.planned',
      retryOnServiceExceptions: true,
    });
    // A second batch waits for the run slot (PipelineBusyError) and fails clearly when it never frees.
    const slot = this.props.runSlotRetry ?? DEFAULT_RUN_SLOT_RETRY;
    plan.addRetry({
      errors: [ERROR_NAMES.pipelineBusy],
      interval: Duration.seconds(slot.intervalSeconds),
      backoffRate: slot.backoffRate,
      maxAttempts: slot.maxAttempts,
    });
    plan.addRetry({
      errors: [ERROR_NAMES.backendUnavailable],
      interval: Duration.seconds(5),
      backoffRate: 2,
      maxAttempts: 3,
    });
    plan.addCatch(this.failure, { resultPath: '$.failure' });
    const lanes = this.lanesPhase();
    return plan.next(
      new sfn.Choice(this, 'IsDryRun')
        .when(
          sfn.Condition.booleanEquals('$.plan.dryRun', true),
          new sfn.Succeed(this, 'DryRunPlanned', { outputPath: '$.plan' }),
        )
        .when(sfn.Condition.booleanEquals('$.plan.buildImage', true), this.buildPhase(pollSeconds, lanes))
        .otherwise(lanes),
    );
  }

  private buildPhase(pollSeconds: number, then: sfn.IChainable): sfn.IChainable {
    const batchId = { 'batchId.$': '$.plan.batch.batchId' };
    const start = this.invoke(
      this,
      'BuildImage',
      'image-build',
      sfn.TaskInput.fromObject({ action: 'start', ...batchId }),
      '$.build',
    );
    const check = this.invoke(
      this,
      'CheckImageBuild',
      'image-build',
      sfn.TaskInput.fromObject({ action: 'check', ...batchId, 'handle.$': '$.build.result.handle' }),
      '$.build',
    );
    for (const task of [start, check]) task.addCatch(this.failure, { resultPath: '$.failure' });
    const wait = new sfn.Wait(this, 'WaitForImageBuild', {
      time: sfn.WaitTime.duration(Duration.seconds(pollSeconds)),
    });
    const failed = new sfn.Fail(this, 'ImageBuildFailed', {
      error: 'ImageBuildError',
      causePath: '$.build.result.stderrTail',
    });
    return start
      .next(wait)
      .next(check)
      .next(
        new sfn.Choice(this, 'IsImageBuilt')
          .when(
            sfn.Condition.and(
              sfn.Condition.booleanEquals('$.build.result.ended', true),
              sfn.Condition.booleanEquals('$.build.result.succeeded', true),
            ),
            then,
          )
          .when(sfn.Condition.booleanEquals('$.build.result.ended', true), failed)
          .otherwise(wait),
      );
  }

  private lanesPhase(): sfn.IChainable {
    const runChunk = new tasks.StepFunctionsStartExecution(this, 'RunChunk', {
      stateMachine: this.chunkStateMachine,
      integrationPattern: sfn.IntegrationPattern.RUN_JOB,
      input: sfn.TaskInput.fromObject({
        'batch.$': '$.batch',
        'lane.$': '$.lane',
        'start.$': '$.start',
        'cursor.$': '$.cursor',
        'end.$': '$.end',
      }),
      associateWithParent: true,
      resultSelector: {
        'lane.$': '$.Output.lane',
        'start.$': '$.Output.start',
        'end.$': '$.Output.end',
        'tally.$': '$.Output.tally',
      },
    });
    // A chunk that fails as a whole leaves its runs pending for the next batch; the lane goes on.
    runChunk.addCatch(
      new sfn.Pass(this, 'ChunkFailed', {
        parameters: {
          'lane.$': '$.lane',
          'start.$': '$.start',
          'end.$': '$.end',
          'error.$': '$.error.Error',
          'cause.$': '$.error.Cause',
        },
      }),
      { resultPath: '$.error' },
    );
    const chunks = new sfn.Map(this, 'RunChunks', {
      itemsPath: '$.lane.chunks',
      itemSelector: {
        'batch.$': '$.batch',
        'lane.$': '$.lane.lane',
        'start.$': '$$.Map.Item.Value.start',
        'cursor.$': '$$.Map.Item.Value.start',
        'end.$': '$$.Map.Item.Value.end',
      },
      maxConcurrency: 1, // runs are sequential within a lane
    });
    chunks.itemProcessor(runChunk);
    const lanes = new sfn.Map(this, 'RunLanes', {
      itemsPath: '$.plan.lanes',
      itemSelector: { 'batch.$': '$.plan.batch', 'lane.$': '$$.Map.Item.Value' },
      maxConcurrency: LANES.length,
      resultPath: '$.chunks',
    });
    lanes.itemProcessor(chunks);
    lanes.addCatch(this.failure, { resultPath: '$.failure' });

    const summary = this.invoke(
      this,
      'SummarizeBatch',
      'summary',
      sfn.TaskInput.fromObject({ 'batch.$': '$.plan.batch' }),
      '$.summary',
    );
    summary.addCatch(this.failure, { resultPath: '$.failure' });
    const publish = new tasks.EventBridgePutEvents(this, 'PublishBatchFinished', {
      entries: [
        {
          eventBus: this.props.eventBus,
          source: BATCH_EVENT_SOURCE,
          detailType: BATCH_EVENT_DETAIL_TYPE,
          detail: sfn.TaskInput.fromObject({
            'batchId.$': '$.summary.result.batchId',
            'tier.$': '$.summary.result.tier',
            'totals.$': '$.summary.result.totals',
            'lanes.$': '$.summary.result.lanes',
            'producedRecords.$': '$.summary.result.producedRecords',
          }),
        },
      ],
      resultPath: sfn.JsonPath.DISCARD,
    });
    publish.addCatch(this.failure, { resultPath: '$.failure' });
    const report = new sfn.Pass(this, 'BatchReport', {
      parameters: { 'progress.$': '$.summary.result', 'chunks.$': '$.chunks' },
    });
    return lanes.next(summary).next(publish).next(report).next(new sfn.Succeed(this, 'BatchSucceeded'));
  }
}
