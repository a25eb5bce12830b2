/**
 * The "r2 sync" state machine and its two functions: health check -> each ML table synced in
 * parallel (a loop of sync-table invocations, each stopping before the Lambda's 15 minutes and
 * resumed by the next) -> the "R2 Sync Completed" event. Failures go to one Fail state, among
 * them a table whose deletions the delete guard refused (SyncDeleteGuardError, never retried).
 *
 * State names are a contract: the embedded local runner and the tests address states by name.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as nodejs from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import {
  DELETE_GUARD_DEFAULTS,
  HEALTH_PROBE_PREFIX,
  SYNC_ENV,
  SYNC_EVENT_DETAIL_TYPE,
  SYNC_EVENT_SOURCE,
  SyncSettings,
  type SyncTable,
} from '../../lambdas/r2-sync/contract';
import {
  acknowledge,
  acknowledgeStateMachine,
  S3_DELETE_ACTIONS,
  S3_PUT_ACTIONS,
  S3_READ_ACTIONS,
  wildcardActions,
  wildcardResource,
} from '../common/nag';
import { type LogLevel, pipelineFunction, roleOf } from '../common/pipeline-function';

/** Lambda's maximum; each invocation stops starting copies `safetyMarginSeconds` before it. */
const SYNC_TIMEOUT = Duration.minutes(15);
const DEFAULT_MAX_INVOCATIONS_PER_TABLE = 50;
const DEFAULT_RETRY = { intervalSeconds: 60, backoffRate: 2, maxAttempts: 3 } as const;

export interface R2SyncSource {
  readonly bucket: s3.IBucket;
  /** Key prefix of the table folders, e.g. 'warehouse/quantum_features/'. */
  readonly prefix: string;
  /** S3-compatible endpoint of the source (local profile). @default the SDK's AWS endpoint */
  readonly endpoint?: string;
  /** @default the stack's region */
  readonly region?: string;
}

export interface R2SyncDestination {
  /** https://<account-id>.r2.cloudflarestorage.com, or a stand-in. */
  readonly endpoint: string;
  /** 'auto' for R2. */
  readonly region: string;
  readonly bucket: string;
  /** Key prefix of the table folders, e.g. 'features/'. */
  readonly prefix: string;
  /** Holds {"accessKeyId": ..., "secretAccessKey": ...} of an R2 API token. */
  readonly credentialsSecret: secretsmanager.ISecret;
}

export interface R2SyncProps {
  readonly stateMachineName: string;
  readonly source: R2SyncSource;
  readonly destination: R2SyncDestination;
  readonly tables: readonly SyncTable[];
  /** Objects copied at once. @default 8 */
  readonly transfers?: number;
  /** Destination HEADs at once. @default 4 */
  readonly checkers?: number;
  /** @default 16 */
  readonly partSizeMiB?: number;
  /** Larger objects go as multipart uploads; smaller ones as one streamed PUT. @default 128 */
  readonly multipartThresholdMiB?: number;
  /** Parts of one object in flight. @default 4 */
  readonly partConcurrency?: number;
  /**
   * A table sync whose plan would delete more than this share (0 to 1) of the mirror's objects
   * deletes nothing and fails with SyncDeleteGuardError (not retried, alerted). @default 0.5
   */
  readonly maxDeleteFraction?: number;
  /** The same guard as a count: more planned deletions than this are refused. @default 1000 */
  readonly maxDeleteCount?: number;
  /** A table sync taking more invocations than this fails the run. @default 50 (12.5 hours) */
  readonly maxInvocationsPerTable?: number;
  /** Retries of a table's sync after failed copies (each resumes). @default 60 s, x2, 3 attempts */
  readonly retry?: { readonly intervalSeconds: number; readonly backoffRate: number; readonly maxAttempts: number };
  /** @default the account's default bus */
  readonly eventBus?: events.IEventBus;
  /** @default one month */
  readonly logRetention?: logs.RetentionDays;
  /** LOG_LEVEL of the functions. @default 'INFO' */
  readonly logLevel?: LogLevel;
}

export class R2Sync extends Construct {
  readonly stateMachineName: string;
  readonly healthCheck: nodejs.NodejsFunction;
  readonly syncTable: nodejs.NodejsFunction;
  readonly stateMachine: sfn.StateMachine;
  readonly logGroup: logs.LogGroup;
  /** What the functions are deployed with (SYNC_SETTINGS). */
  readonly settings: SyncSettings;
  private readonly failure: sfn.Fail;

  constructor(
    scope: Construct,
    id: string,
    private readonly props: R2SyncProps,
  ) {
    super(scope, id);
    R2Sync.validateProps(props);
    const maxInvocations = props.maxInvocationsPerTable ?? DEFAULT_MAX_INVOCATIONS_PER_TABLE;
    this.stateMachineName = props.stateMachineName;
    this.settings = this.validatedSettings(props);

    this.healthCheck = this.makeFunction(
      'R2SyncHealthCheck',
      'lambdas/r2-sync/handlers/health-check.ts',
      Duration.seconds(60),
      256,
    );
    this.syncTable = this.makeFunction('R2SyncTable', 'lambdas/r2-sync/handlers/sync-table.ts', SYNC_TIMEOUT, 1024);
    this.grant(props);

    this.failure = new sfn.Fail(this, 'SyncFailed', { errorPath: '$.failure.Error', causePath: '$.failure.Cause' });
    const definition = this.checkHealthPhase().next(this.syncTablesPhase(maxInvocations)).next(this.publishPhase());
    this.logGroup = new logs.LogGroup(this, 'StateMachineLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      stateMachineName: props.stateMachineName,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: Duration.hours(24),
      tracingEnabled: true,
      logs: { destination: this.logGroup, level: sfn.LogLevel.ALL, includeExecutionData: true },
    });
    acknowledgeStateMachine(this.stateMachine, [this.healthCheck, this.syncTable], "the sync's");
  }

  /** Checks the props, naming the prop and the value, before anything is built (the settings are checked by their schema). */
  private static validateProps(props: R2SyncProps): void {
    if (!/^[A-Za-z0-9_-]{1,80}$/.test(props.stateMachineName)) {
      throw new Error(
        `R2Sync: stateMachineName must be 1-80 letters, digits, - or _, got ${JSON.stringify(props.stateMachineName)}`,
      );
    }
    const maxInvocations = props.maxInvocationsPerTable;
    if (
      maxInvocations !== undefined &&
      (!Number.isInteger(maxInvocations) || maxInvocations < 1 || maxInvocations > 1000)
    ) {
      throw new Error(`R2Sync: maxInvocationsPerTable must be a whole number from 1 to 1000, got ${maxInvocations}`);
    }
    const { maxDeleteFraction, maxDeleteCount } = props;
    if (
      maxDeleteFraction !== undefined &&
      (!Number.isFinite(maxDeleteFraction) || maxDeleteFraction < 0 || maxDeleteFraction > 1)
    ) {
      throw new Error(`R2Sync: maxDeleteFraction must be a number from 0 to 1, got ${maxDeleteFraction}`);
    }
    if (maxDeleteCount !== undefined && (!Number.isInteger(maxDeleteCount) || maxDeleteCount < 0)) {
      throw new Error(`R2Sync: maxDeleteCount must be a whole number, 0 or more, got ${maxDeleteCount}`);
    }
  }

  private validatedSettings(props: R2SyncProps): SyncSettings {
    const candidate = {
      source: {
        bucket: props.source.bucket.bucketName,
        prefix: props.source.prefix,
        ...(props.source.endpoint ? { endpoint: props.source.endpoint } : {}),
        region: props.source.region ?? Stack.of(this).region,
        forcePathStyle: props.source.endpoint !== undefined,
      },
      destination: {
        bucket: props.destination.bucket,
        prefix: props.destination.prefix,
        endpoint: props.destination.endpoint,
        region: props.destination.region,
        forcePathStyle: true,
      },
      tables: [...props.tables],
      transfers: props.transfers ?? 8,
      checkers: props.checkers ?? 4,
      partSizeMiB: props.partSizeMiB ?? 16,
      multipartThresholdMiB: props.multipartThresholdMiB ?? 128,
      partConcurrency: props.partConcurrency ?? 4,
      safetyMarginSeconds: 120,
      maxDeleteFraction: props.maxDeleteFraction ?? DELETE_GUARD_DEFAULTS.maxDeleteFraction,
      maxDeleteCount: props.maxDeleteCount ?? DELETE_GUARD_DEFAULTS.maxDeleteCount,
    };
    const result = SyncSettings.safeParse(candidate);
    if (!result.success) {
      const problems = result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
      throw new Error(`R2Sync: invalid settings: ${problems}`);
    }
    return result.data;
  }

  private makeFunction(id: string, handler: string, timeout: Duration, memorySize: number): nodejs.NodejsFunction {
    return pipelineFunction(this, id, {
      handler,
      timeout,
      memorySize,
      logRetention: this.props.logRetention,
      logLevel: this.props.logLevel,
      environment: {
        [SYNC_ENV.settings]: JSON.stringify(this.settings),
        [SYNC_ENV.credentialsSecret]: this.props.destination.credentialsSecret.secretArn,
      },
    });
  }

  private grant(props: R2SyncProps): void {
    const { bucket, prefix } = props.source;
    for (const fn of [this.healthCheck, this.syncTable]) {
      props.destination.credentialsSecret.grantRead(fn);
      bucket.grantRead(fn, `${prefix}*`);
      acknowledge(
        roleOf(fn),
        wildcardActions(S3_READ_ACTIONS),
        "grantRead action groups of CDK, limited to the ML tables' warehouse prefix",
      );
      acknowledge(
        roleOf(fn),
        [wildcardResource(this, bucket.arnForObjects(`${prefix}*`))],
        'the sync lists and reads every file of the tables it mirrors (Iceberg names them at write time)',
      );
    }
    // The health check proves the source writable with a probe object next to the tables.
    const probes = `${prefix}${HEALTH_PROBE_PREFIX}*`;
    bucket.grantPut(this.healthCheck, probes);
    bucket.grantDelete(this.healthCheck, probes);
    const health = roleOf(this.healthCheck);
    acknowledge(
      health,
      wildcardActions(S3_PUT_ACTIONS),
      'grantPut action group of CDK, limited to the health probe prefix',
    );
    acknowledge(
      health,
      wildcardActions(S3_DELETE_ACTIONS),
      'grantDelete action group of CDK, limited to the health probe prefix',
    );
    acknowledge(
      health,
      [wildcardResource(this, bucket.arnForObjects(probes))],
      'the health check writes and deletes one probe object with a random name under this prefix',
    );
  }

  private checkHealthPhase(): tasks.LambdaInvoke {
    const check = new tasks.LambdaInvoke(this, 'CheckHealth', {
      lambdaFunction: this.healthCheck,
      payload: sfn.TaskInput.fromObject({ 'input.$': '$$.Execution.Input', 'executionName.$': '$$.Execution.Name' }),
      resultSelector: { 'run.$': '$.Payload' },
      // The validated run replaces the raw input: later states read $.run only.
      outputPath: '$.checked',
      resultPath: '$.checked',
      retryOnServiceExceptions: true,
    });
    check.addCatch(this.failure, { resultPath: '$.failure' });
    return check;
  }

  private syncTablesPhase(maxInvocations: number): sfn.IChainable {
    const retry = this.props.retry ?? DEFAULT_RETRY;
    const syncOnce = new tasks.LambdaInvoke(this, 'SyncTable', {
      lambdaFunction: this.syncTable,
      // {run, table} from the Map, plus {progress} from the second invocation on.
      payload: sfn.TaskInput.fromJsonPathAt('$'),
      resultSelector: { 'progress.$': '$.Payload' },
      resultPath: '$.latest',
      retryOnServiceExceptions: true,
    });
    syncOnce.addRetry({
      // Sandbox.Timedout: an invocation that overran the Lambda timeout (one huge object); the
      // next one resumes from the listings like any other. SyncDeleteGuardError is left out on
      // purpose: the same listings give the same refusal, so it goes straight to the Map's Catch
      // (SyncFailed, and the failed-execution alert) like every other failure of the sync.
      errors: [ERROR_NAMES.syncIncomplete, ERROR_NAMES.syncEndpoint, 'Sandbox.Timedout'],
      interval: Duration.seconds(retry.intervalSeconds),
      backoffRate: retry.backoffRate,
      maxAttempts: retry.maxAttempts,
    });
    const carry = new sfn.Pass(this, 'CarryProgress', {
      parameters: { 'run.$': '$.run', 'table.$': '$.table', 'progress.$': '$.latest.progress' },
    });
    const done = new sfn.Pass(this, 'TableSynced', { outputPath: '$.progress' });
    const tooLong = new sfn.Fail(this, 'TableSyncTooLong', {
      error: 'SyncTooLongError',
      cause: `a table sync needed more than ${maxInvocations} invocations`,
    });
    const isDone = new sfn.Choice(this, 'IsTableSynced')
      .when(sfn.Condition.booleanEquals('$.progress.complete', true), done)
      .when(sfn.Condition.numberGreaterThanEquals('$.progress.invocations', maxInvocations), tooLong)
      .otherwise(syncOnce);

    const tables = new sfn.Map(this, 'SyncTables', {
      itemsPath: '$.run.tables',
      itemSelector: { 'run.$': '$.run', 'table.$': '$$.Map.Item.Value' },
      maxConcurrency: 2,
      resultPath: '$.tables',
    });
    tables.itemProcessor(syncOnce.next(carry).next(isDone));
    tables.addCatch(this.failure, { resultPath: '$.failure' });
    return tables;
  }

  private publishPhase(): sfn.IChainable {
    const put = new tasks.EventBridgePutEvents(this, 'PublishSyncCompleted', {
      entries: [
        {
          eventBus: this.props.eventBus,
          source: SYNC_EVENT_SOURCE,
          detailType: SYNC_EVENT_DETAIL_TYPE,
          detail: sfn.TaskInput.fromObject({
            'runId.$': '$.run.runId',
            'trigger.$': '$.run.trigger',
            'dryRun.$': '$.run.dryRun',
            'tables.$': '$.tables',
          }),
        },
      ],
      resultPath: sfn.JsonPath.DISCARD,
    });
    put.addCatch(this.failure, { resultPath: '$.failure' });
    return put.next(new sfn.Succeed(this, 'SyncSucceeded'));
  }
}
