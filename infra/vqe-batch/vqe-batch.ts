/**
 * "vqe batch generation": a parent state machine (plan -> optional image build -> the lanes side
 * by side, each lane's chunks one after another -> summary -> "VQE Batch Finished") and a chunk
 * state machine, started once per chunk, that launches and polls its runs one at a time. Chunks
 * keep every history under Step Functions' 25,000 events and every payload small: the run lists
 * themselves stay in S3.
 *
 * State names are a contract: the embedded local runner and the tests address states by name.
 *
 * Beside it: props.ts (the props and their checks, the functions' settings), gpu-host-access.ts
 * (the SSM documents and who may send them where), chunk-states.ts (the chunk machine's states),
 * batch-report-states.ts (the batch's page at its end and on its failure path).
 */
import { ArnFormat, Duration, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as ssm from 'aws-cdk-lib/aws-ssm';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import {
  BATCH_ENV,
  BATCH_EVENT_DETAIL_TYPE,
  BATCH_EVENT_SOURCE,
  type BatchSettings,
  LANES,
} from '../../lambdas/vqe-batch/contract';
import {
  acknowledge,
  acknowledgeStateMachine,
  S3_PUT_ACTIONS,
  S3_READ_ACTIONS,
  wildcardActions,
  wildcardResource,
} from '../common/nag';
import { pipelineFunction, roleOf } from '../common/pipeline-function';
import { BatchReportFunction } from '../report/report-function';
import { batchFailurePath, writeBatchReport } from './batch-report-states';
import { batchChunkDefinition, batchTask } from './chunk-states';
import { GpuHostAccess } from './gpu-host-access';
import { batchSettings, resolveDelivery, type VqeBatchProps, validateBatchProps } from './props';

export type { VqeBatchDelivery, VqeBatchLauncher, VqeBatchProps, VqeBatchSsmLauncher } from './props';

const DEFAULT_RUN_SLOT_RETRY = { intervalSeconds: 300, backoffRate: 1.5, maxAttempts: 12 } as const;

export type FunctionName = 'plan' | 'start-run' | 'check-run' | 'image-build' | 'summary';

export class VqeBatch extends Construct {
  readonly stateMachineName: string;
  readonly functions: Readonly<Record<FunctionName, nodejs.NodejsFunction>>;
  readonly stateMachine: sfn.StateMachine;
  readonly chunkStateMachine: sfn.StateMachine;
  /** What the functions are deployed with (BATCH_SETTINGS). */
  readonly settings: BatchSettings;
  /** The SSM Command documents and the rights to send them (SSM launcher only). */
  readonly hostAccess?: GpuHostAccess;
  /** The SSM Command documents the functions may send (SSM launcher only). */
  readonly documents?: { readonly run: ssm.CfnDocument; readonly build?: ssm.CfnDocument };
  /** Writes the batch's page at the end of each execution (when props.report is set). */
  readonly reportFunction?: nodejs.NodejsFunction;
  /** Where every Catch goes: the failure report (once planned), then BatchFailed. */
  private readonly failure: sfn.IChainable;
  private readonly retention: logs.RetentionDays;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: VqeBatchProps,
  ) {
    super(scope, id);
    const { runTimeoutSeconds, pollSeconds, chunkSize } = validateBatchProps(props);
    this.stateMachineName = props.stateMachineName;
    this.retention = props.logRetention ?? logs.RetentionDays.ONE_MONTH;
    const delivery = resolveDelivery(props);
    if (props.launcher.kind === 'ssm') {
      const { target, image, dockerRunOptions, build, containerSecrets, hostRole } = props.launcher;
      // The id 'Default' is left out of logical ids: the documents keep the ids they had when this
      // construct made them itself, so moving them here replaced nothing on deploy.
      this.hostAccess = new GpuHostAccess(this, 'Default', {
        target,
        image,
        dockerRunOptions,
        build,
        containerSecrets,
        hostRole,
        ...(delivery.mode === 'host-upload'
          ? { hostUpload: { bucket: delivery.bucket, prefix: delivery.prefix, hostDir: delivery.hostDir } }
          : {}),
      });
      const { runDocument, buildDocument } = this.hostAccess;
      this.documents = { run: runDocument, ...(buildDocument ? { build: buildDocument } : {}) };
    }
    this.settings = batchSettings(props, { runTimeoutSeconds, pollSeconds, chunkSize }, this.documents);

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
    if (props.report) {
      this.reportFunction = new BatchReportFunction(this, 'Report', {
        ...props.report,
        batchState: { bucket: props.stateBucket, prefix: this.settings.statePrefix },
        logRetention: props.logRetention,
        logLevel: props.logLevel,
      }).function;
    }

    this.chunkStateMachine = this.makeMachine(
      'Chunk',
      `${props.stateMachineName}-chunk`,
      batchChunkDefinition(new Construct(this, 'ChunkStates'), this.functions, pollSeconds),
      Duration.seconds(chunkSize * (runTimeoutSeconds + 2 * pollSeconds) + 3600),
    );
    acknowledgeStateMachine(
      this.chunkStateMachine,
      [this.functions['start-run'], this.functions['check-run']],
      "the batch's",
    );
    this.failure = batchFailurePath(this, this.reportFunction);
    const definition = this.planPhase(pollSeconds);
    this.stateMachine = this.makeMachine('StateMachine', props.stateMachineName, definition, Duration.days(21));
    this.acknowledgeParentMachine();
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
    // check-run lists what each ended run delivered, below the records prefix (read includes List).
    const delivery = resolveDelivery(this.props);
    const checkRun = this.functions['check-run'];
    delivery.bucket.grantRead(checkRun, `${delivery.prefix}*`);
    acknowledge(
      roleOf(checkRun),
      [wildcardResource(this, delivery.bucket.arnForObjects(`${delivery.prefix}*`))],
      "the runs' records, below each run's own prefix, named by container name and attempt",
    );
    // What each step does on the host (lambdas/vqe-batch/launchers/ssm.ts): start-run launches;
    // check-run polls and stops its run; image-build starts and polls the build.
    this.hostAccess?.grantLaunch(this.functions['start-run']);
    this.hostAccess?.grantCheck(this.functions['check-run']);
    this.hostAccess?.grantBuild(this.functions['image-build']);
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
      [
        this.functions.plan,
        this.functions['image-build'],
        this.functions.summary,
        ...(this.reportFunction ? [this.reportFunction] : []),
      ],
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
    return batchTask(scope, id, this.functions[fn], payload, resultPath);
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
            'records.$': '$.summary.result.records',
            ...(this.reportFunction ? { 'report.$': '$.report' } : {}),
          }),
        },
      ],
      resultPath: sfn.JsonPath.DISCARD,
    });
    publish.addCatch(this.failure, { resultPath: '$.failure' });
    const report = new sfn.Pass(this, 'BatchReport', {
      parameters: {
        'progress.$': '$.summary.result',
        'chunks.$': '$.chunks',
        ...(this.reportFunction ? { 'report.$': '$.report' } : {}),
      },
    });
    const end = publish.next(report).next(new sfn.Succeed(this, 'BatchSucceeded'));
    return lanes
      .next(summary)
      .next(this.reportFunction ? writeBatchReport(this, 'WriteBatchReport', this.reportFunction, publish) : end);
  }
}
