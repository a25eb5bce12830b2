/**
 * The feature pipeline, synthesized for the local profile and executed in this process: the real
 * state machine definition, the real Lambda handler code (bound with the environment the template
 * gives each function), the local data plane's Spark master and Garage, and the template's own
 * EventBridge rules for alerts.
 */
import { App } from 'aws-cdk-lib';
import { buildApp } from '../../infra/assemble';
import { loadConfig } from '../../infra/config';
import { HANDLER_NAMES, type HandlerName } from '../../infra/feature-pipeline/spark-job-functions';
import type { QuantumPipelineStack } from '../../infra/stack';
import type { Environment } from '../../lambdas/core/env';
import { Logger, withLambdaContext } from '../../lambdas/core/logger';
import type { MetricEmitter } from '../../lambdas/core/metrics';
import { ENV, PipelineSettings } from '../../lambdas/feature-pipeline/contract';
import { createFindingsPublisher } from '../../lambdas/feature-pipeline/quality-findings';
import { backendFromEnv, readSettings, s3ClientFromEnv } from '../../lambdas/feature-pipeline/settings';
import { createAcquireRunSlot, type RunningExecutions } from '../../lambdas/feature-pipeline/steps/acquire-run-slot';
import { createCancelJob } from '../../lambdas/feature-pipeline/steps/cancel-job';
import { createJobStatus } from '../../lambdas/feature-pipeline/steps/job-status';
import { createReadSummary } from '../../lambdas/feature-pipeline/steps/read-summary';
import { createSubmitJob } from '../../lambdas/feature-pipeline/steps/submit-job';
import { validateInput } from '../../lambdas/feature-pipeline/steps/validate-input';
import type { SyncSettings } from '../../lambdas/r2-sync/contract';
import type { StaticCredentials } from '../../lambdas/r2-sync/engine/clients';
import { REPORT_ENV } from '../../lambdas/report/contract';
import { createWriteReport } from '../../lambdas/report/steps/write-report';
import {
  type AslDefinition,
  allStates,
  type CfnTemplate,
  functionEnvironment,
  logicalIdOf,
  placeholderArn,
  resolveDefinition,
} from './definition';
import { hostBusBindings, LocalEventBridge, localMetricEmitter } from './local-events';
import { type LambdaHandler, type LocalExecution, LocalStateMachineHost, type PutEventsEntry } from './local-host';
import { createLocalMaintenance, runSlotLister } from './local-maintenance';
import { createLocalObjectArrivals, type LocalObjectArrivals } from './local-object-arrivals';
import { createLocalR2Sync, type LocalR2Sync } from './local-r2-sync';
import { createLocalVqeBatch, type LocalVqeBatch, type LocalVqeBatchOptions } from './local-vqe-batch';

/** The local data plane as `localstack/dataplane/dataplane.sh` describes it in dataplane.env. */
export interface Dataplane {
  readonly s3Endpoint: string;
  readonly s3Region: string;
  readonly sparkRestUrl: string;
  readonly sparkMasterUrl: string;
  readonly sparkWorkDir: string;
  readonly python: string;
  /** dist/spark-jobs: the packaged jobs (npm run build:spark). */
  readonly distDir: string;
  /** The key of the R2 stand-in bucket (in place of the R2 token in Secrets Manager). */
  readonly r2Credentials: StaticCredentials;
}

export function dataplaneFromEnv(env: Environment): Dataplane {
  const need = (name: string) => {
    const value = env[name];
    if (!value)
      throw new Error(`${name} is not set: start the data plane (npm run dataplane:start) and load its dataplane.env`);
    return value;
  };
  return {
    s3Endpoint: need('QP_S3_ENDPOINT'),
    s3Region: need('QP_S3_REGION'),
    sparkRestUrl: need('QP_SPARK_REST_URL'),
    sparkMasterUrl: need('QP_SPARK_MASTER_URL'),
    sparkWorkDir: need('QP_SPARK_WORK_DIR'),
    python: need('QP_PYTHON'),
    distDir: need('QP_DIST_DIR'),
    r2Credentials: { accessKeyId: need('QP_R2_ACCESS_KEY_ID'), secretAccessKey: need('QP_R2_SECRET_ACCESS_KEY') },
  };
}

export interface LocalPipelineOptions {
  readonly dataplane: Dataplane;
  /** CDK context on top of the local profile (e.g. `{ jobs: {...} }` for shorter timeouts). */
  readonly context?: Record<string, unknown>;
  /** Changes to what the jobs are submitted with (tests use their own namespace and prefixes). */
  readonly settings?: Partial<PipelineSettings>;
  /** Duration of each poll Wait state. @default 2000 */
  readonly pollMs?: number;
  /** Retry pauses by state name; unset states keep the definition's intervals. */
  readonly retryOverridesMs?: Record<string, number | number[]>;
  /** JSON-lines record of events and alert deliveries. @default none */
  readonly eventLog?: string;
  /** Where the handlers' JSON log lines go (CloudWatch Logs on AWS). @default dropped */
  readonly lambdaLog?: (line: string) => void;
  /** Changes to the R2 sync's deployed settings (tests use their own prefixes). */
  readonly r2Settings?: Partial<SyncSettings>;
  /** Each R2 sync invocation's time budget (getRemainingTimeInMillis). @default 900000 */
  readonly r2LambdaBudgetMs?: number;
  /** The VQE batch's settings changes, launcher and poll pause; its environment. @default process.env */
  readonly batch?: Pick<LocalVqeBatchOptions, 'settings' | 'launcher' | 'pollMs' | 'retryOverridesMs'> & {
    readonly env?: Environment;
  };
  /** The quiet window of new raw objects in seconds (tests use a few). @default the template's (quietMinutes) */
  readonly objectQuietSeconds?: number;
}

export interface LocalPipeline {
  readonly host: LocalStateMachineHost;
  readonly bus: LocalEventBridge;
  readonly stack: QuantumPipelineStack;
  readonly template: CfnTemplate;
  readonly definition: AslDefinition;
  readonly settings: PipelineSettings;
  /** The R2 sync, started by the bus when job 2 changed the ML tables; undefined when r2.enabled is false. */
  readonly r2Sync?: LocalR2Sync;
  /** "vqe batch generation"; undefined when batch.enabled is false. */
  readonly vqeBatch?: LocalVqeBatch;
  /** Feature pipeline executions the bus started (a finished batch's rule, a closed window of new objects), in order. */
  readonly triggered: LocalExecution[];
  /** New raw objects -> the debounce state machine -> the pipeline; S3's events come from `notifications(...)`. */
  readonly objectArrivals: LocalObjectArrivals;
  /** "table maintenance", sharing the pipeline's run slot and Spark steps (started by `maintenance.start`). */
  readonly maintenance: LocalStateMachineHost;
}

export function createLocalPipeline(options: LocalPipelineOptions): LocalPipeline {
  const { dataplane } = options;
  const config = loadConfig({
    ...options.context,
    profile: 'local',
    local: {
      s3Endpoint: dataplane.s3Endpoint,
      s3Region: dataplane.s3Region,
      sparkRestUrl: dataplane.sparkRestUrl,
      sparkMasterUrl: dataplane.sparkMasterUrl,
      sparkArtifactsDir: dataplane.distDir,
      sparkPython: dataplane.python,
    },
  });
  // Bundling is skipped: the handlers run from source here, not from the esbuild bundles.
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = buildApp(app, config, undefined, { nag: false });
  const template = app.synth().getStackByName(stack.stackName).template as CfnTemplate;
  const machineId = logicalIdOf(stack, stack.pipeline.stateMachine);
  const definition = resolveDefinition(template, machineId);

  let host: LocalStateMachineHost | undefined;
  let maintenance: LocalStateMachineHost | undefined;
  let settings: PipelineSettings | undefined;
  const handlers: Record<string, LambdaHandler> = {};
  for (const name of HANDLER_NAMES) {
    const id = logicalIdOf(stack, stack.functions.functions[name]);
    const env: Record<string, string> = {
      ...functionEnvironment(template, id),
      [ENV.sparkWorkDir]: dataplane.sparkWorkDir,
      AWS_REGION: dataplane.s3Region,
    };
    if (options.settings && env[ENV.settings]) {
      env[ENV.settings] = JSON.stringify(
        PipelineSettings.parse({ ...JSON.parse(env[ENV.settings]), ...options.settings }),
      );
    }
    if (env[ENV.settings]) settings = readSettings(env);
    // As on Lambda: the function's LOG_LEVEL, and the invocation's ids on every line (withLambdaContext).
    const log = new Logger(name, {}, env.LOG_LEVEL ?? 'INFO', options.lambdaLog ?? (() => undefined));
    // Its EMF lines go to the Lambda log, as on AWS, and to the events record (the bus is made below).
    const metrics = localMetricEmitter(env, log, (line) => {
      options.lambdaLog?.(line);
      bus.recordMetrics(line);
    });
    const bound = bindHandler(
      name,
      env,
      log,
      metrics,
      // The run slot is shared with table maintenance (local-maintenance.ts).
      runSlotLister(() => {
        if (!host || !maintenance) throw new Error('the local hosts are not ready');
        return [
          { host, name: stack.pipeline.stateMachineName },
          { host: maintenance, name: stack.maintenance.stateMachineName },
        ];
      }),
      // PutEvents of the steps (the data-quality findings) go on the local bus, to the template's rules.
      (entries) => hostBusBindings(bus).eventBus(entries),
    );
    handlers[id] = withLambdaContext(log, bound, env);
  }
  if (!settings) throw new Error('no function of the template carries PIPELINE_SETTINGS');
  // The run report's function reads the summaries where the jobs write them (tests move them).
  const reportId = logicalIdOf(stack, stack.runReport.function);
  const reportEnv: Record<string, string> = {
    ...functionEnvironment(template, reportId),
    AWS_REGION: dataplane.s3Region,
  };
  const reportLog = new Logger(
    'write-report',
    {},
    reportEnv.LOG_LEVEL ?? 'INFO',
    options.lambdaLog ?? (() => undefined),
  );
  handlers[reportId] = withLambdaContext(
    reportLog,
    createWriteReport({
      s3: s3ClientFromEnv({ ...reportEnv, [ENV.s3ForcePathStyle]: 'true' }),
      bucket: reportEnv[REPORT_ENV.bucket],
      summaryUri: settings.summaryUri,
      log: reportLog,
    }),
    reportEnv,
  );

  const bus = new LocalEventBridge(template, options.eventLog);
  const waits = Object.fromEntries(
    allStates(definition)
      .filter(([, state]) => state.Type === 'Wait')
      .map(([name]) => [name, options.pollMs ?? 2000]),
  );
  host = new LocalStateMachineHost({
    definition,
    stateMachineName: stack.pipeline.stateMachineName,
    stateMachineArn: placeholderArn(template, machineId),
    lambdaHandlers: handlers,
    ...hostBusBindings(bus),
    waitOverridesMs: waits,
    retryOverridesMs: options.retryOverridesMs,
  });
  maintenance = createLocalMaintenance({
    template,
    stack,
    bus,
    sparkHandlers: handlers,
    pollMs: options.pollMs,
    retryOverridesMs: options.retryOverridesMs,
    lambdaLog: options.lambdaLog,
  });
  const r2Sync = createLocalR2Sync({
    template,
    stack,
    bus,
    destinationCredentials: dataplane.r2Credentials,
    settings: options.r2Settings,
    lambdaBudgetMs: options.r2LambdaBudgetMs,
    retryOverridesMs: options.retryOverridesMs,
    lambdaLog: options.lambdaLog,
  });
  const vqeBatch = createLocalVqeBatch({
    template,
    stack,
    bus,
    env: options.batch?.env ?? process.env,
    settings: options.batch?.settings,
    launcher: options.batch?.launcher,
    pollMs: options.batch?.pollMs,
    retryOverridesMs: options.batch?.retryOverridesMs,
    summaryUri: settings.summaryUri,
    lambdaLog: options.lambdaLog,
  });
  const objectArrivals = createLocalObjectArrivals({
    template,
    stack,
    bus,
    s3: s3ClientFromEnv({
      [ENV.s3Endpoint]: dataplane.s3Endpoint,
      [ENV.s3ForcePathStyle]: 'true',
      AWS_REGION: dataplane.s3Region,
    }),
    quietSeconds: options.objectQuietSeconds,
    lambdaLog: options.lambdaLog,
  });
  const triggered: LocalExecution[] = [];
  const started = host;
  bus.connectStateMachine(machineId, (input) => {
    triggered.push(
      started.start(
        input,
        `${(input as { trigger?: string } | null)?.trigger ?? 'event'}-${Date.now()}-${triggered.length + 1}`,
      ),
    );
  });
  return {
    host,
    bus,
    stack,
    template,
    definition,
    settings,
    r2Sync,
    vqeBatch,
    triggered,
    objectArrivals,
    maintenance,
  };
}

/** The handler code of each function, wired with that function's own environment. */
function bindHandler(
  name: HandlerName,
  env: Environment,
  log: Logger,
  metrics: MetricEmitter,
  slot: RunningExecutions,
  putOnBus: (entries: PutEventsEntry[]) => void,
): LambdaHandler {
  switch (name) {
    case 'validate-input':
      return async (event) => {
        const run = validateInput(event);
        log.info('input accepted', { runId: run.runId, options: run.options });
        return run;
      };
    case 'acquire-run-slot':
      return createAcquireRunSlot(slot, log);
    case 'submit-job':
      return createSubmitJob({ backend: backendFromEnv(env), settings: readSettings(env), log });
    case 'job-status':
      return createJobStatus({ backend: backendFromEnv(env), log, metrics });
    case 'cancel-job':
      return createCancelJob({ backend: backendFromEnv(env), log });
    case 'read-summary': {
      const busName = env[ENV.eventBusName];
      return createReadSummary({
        s3: s3ClientFromEnv(env),
        settings: readSettings(env),
        log,
        metrics,
        findings: busName ? localFindingsPublisher(busName, log, putOnBus) : undefined,
      });
    }
  }
}

/** The findings publisher of read-summary, its PutEvents answered as EventBridge does: one result per entry, in order. */
function localFindingsPublisher(busName: string, log: Logger, putOnBus: (entries: PutEventsEntry[]) => void) {
  return createFindingsPublisher({
    busName,
    log,
    client: {
      send: async (command) => {
        const entries = command.input.Entries ?? [];
        putOnBus(entries as PutEventsEntry[]);
        return { $metadata: {}, FailedEntryCount: 0, Entries: entries.map((_, i) => ({ EventId: `local-${i}` })) };
      },
    },
  });
}
