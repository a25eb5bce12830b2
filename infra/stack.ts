/**
 * The feature pipeline stack, for both profiles. `aws`: EMR Serverless + Glue + uploaded job
 * code. `local`: the same buckets, Lambdas, state machine, schedule and alerts, but the Lambdas
 * submit to a Spark standalone master and use an S3-compatible endpoint (Garage or LocalStack),
 * and nothing LocalStack lacks is in the template.
 */
import { Duration, Stack, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { Construct } from 'constructs';
import type { PipelineSettings } from '../lambdas/feature-pipeline/contract';
import { reportKey } from '../lambdas/report/contract';
import { LANES } from '../lambdas/vqe-batch/contract';
import { roleOf } from './common/pipeline-function';
import { type AppConfig, batchEnabled, r2Target } from './config';
import { FeaturePipeline } from './feature-pipeline/feature-pipeline';
import type { SparkJobCode } from './feature-pipeline/job-code';
import { QualityFindingsAlert } from './feature-pipeline/quality-findings';
import { SparkCompute } from './feature-pipeline/spark-compute';
import { SparkJobFunctions } from './feature-pipeline/spark-job-functions';
import { TableMaintenance } from './maintenance/table-maintenance';
import { PipelineAlerts } from './platform/alerts';
import { PipelineDashboard } from './platform/dashboard';
import { PipelineEventBus } from './platform/event-bus';
import { ObjectArrivalsTrigger } from './platform/object-arrivals';
import { PipelineBuckets } from './platform/storage';
import { BatchFinishedTrigger, PipelineSchedule, R2SyncTriggers } from './platform/triggers';
import { R2Sync } from './r2-sync/r2-sync';
import { FeatureQueries } from './reading/feature-queries';
import { RunReportFunction } from './report/report-function';
import { VqeBatch, type VqeBatchLauncher } from './vqe-batch/vqe-batch';

export interface QuantumPipelineStackProps extends StackProps {
  readonly config: Readonly<AppConfig>;
  /** The packaged Spark jobs deployed on AWS (assemble.ts reads them). @default none: no upload (tests) */
  readonly sparkJobCode?: SparkJobCode;
}

/** Fixed bucket names of the local profile: the local data plane and compose create these. */
const LOCAL_BUCKETS = { rawResults: 'raw-results', features: 'features', artifacts: 'artifacts' } as const;
/** One executor on the local worker's free slots (it offers 4; the driver takes 1). */
const LOCAL_EXECUTOR_CORES = 3;
/**
 * mini-VQE's molecule files, relative to its folder (mini-vqe, or /app in its image): only the cpu
 * lane has one. The gpu lanes keep batch.moleculesFiles, the GPU image's files: locally mini-VQE
 * refuses their --gpu runs before it reads --file, so they fail with that reason and the cpu lane goes on.
 */
const LOCAL_MOLECULES = { cpu: 'molecules/cpu.json' } as const;
/** With the daily schedule on, a day and two hours without a successful run raises an alarm. */
const NO_SUCCESS_ALARM_AFTER = Duration.hours(26);

export class QuantumPipelineStack extends Stack {
  readonly buckets: PipelineBuckets;
  readonly compute?: SparkCompute;
  /** Athena's workgroup and saved queries over the Glue tables (aws profile). */
  readonly queries?: FeatureQueries;
  readonly functions: SparkJobFunctions;
  readonly pipeline: FeaturePipeline;
  /** Where both jobs write their run summaries and job 2 its report data (s3a:// locally). */
  readonly summaryUri: string;
  /** Writes each run's report page to s3://<artifacts>/reports/<run id>.html. */
  readonly runReport: RunReportFunction;
  readonly schedule: PipelineSchedule;
  /** The weekly table maintenance (its own state machine, sharing the pipeline's run slot). */
  readonly maintenance: TableMaintenance;
  /** New raw objects -> one run per quiet window (S3 "Object Created" -> debounce -> the pipeline). */
  readonly objectArrivals: ObjectArrivalsTrigger;
  readonly alerts: PipelineAlerts;
  /** The alert of the data-quality gates ("Data Quality Finding" events -> the alert topic). */
  readonly qualityFindings: QualityFindingsAlert;
  /** The bus of the pipeline's own events; only its state machines may put events on it. */
  readonly events: PipelineEventBus;
  /** The mirror of the ML tables on R2; undefined when not configured (see r2Target). */
  readonly r2Sync?: R2Sync;
  readonly r2SyncTriggers?: R2SyncTriggers;
  /** "vqe batch generation"; undefined on AWS until a GPU host is configured (see batchEnabled). */
  readonly vqeBatch?: VqeBatch;
  readonly batchFinishedTrigger?: BatchFinishedTrigger;
  /** The CloudWatch dashboard of runs, rows, files, batch lanes, R2 volume and alarms. */
  readonly dashboard: PipelineDashboard;

  constructor(scope: Construct, id: string, props: QuantumPipelineStackProps) {
    super(scope, id, props);
    const { config } = props;
    const local = config.profile === 'local';
    const names = local ? { ...LOCAL_BUCKETS, ...config.buckets } : config.buckets;
    this.buckets = new PipelineBuckets(this, 'Buckets', {
      rawResultsBucketName: names.rawResults,
      featuresBucketName: names.features,
      artifactsBucketName: names.artifacts,
      removalPolicy: config.removalPolicy,
      noncurrentVersionDays: config.buckets.noncurrentVersionDays,
    });
    this.events = new PipelineEventBus(this, 'Events');

    const stateMachineName = `${config.stackName}-feature-pipeline`;
    const maintenanceName = `${config.stackName}-table-maintenance`;
    const scheme = local ? 's3a' : 's3';
    this.summaryUri = `${scheme}://${this.buckets.features.bucketName}/pipeline-runs`;
    const settings = (sparkConf: Record<string, string>): PipelineSettings => ({
      catalog: config.catalog.name,
      namespace: config.catalog.namespace,
      rawUri: `${scheme}://${this.buckets.rawResults.bucketName}/experiments`,
      summaryUri: this.summaryUri,
      sparkConf,
      resources: {
        driverCores: config.spark.driverCores,
        driverMemory: config.spark.driverMemory,
        executorCores: config.spark.executorCores ?? (local ? LOCAL_EXECUTOR_CORES : 1),
        executorMemory: config.spark.executorMemory,
      },
      extraSubmitArgs: [],
      jobTimeoutSeconds: {
        features: config.jobs.features.timeoutSeconds,
        'ml-features': config.jobs.mlFeatures.timeoutSeconds,
        maintenance: config.maintenance.timeoutSeconds,
      },
      mlDefaults: { ...config.mlDefaults },
    });

    if (local) {
      this.functions = new SparkJobFunctions(this, 'Functions', {
        backend: {
          kind: 'standalone',
          restUrl: config.local.sparkRestUrl,
          masterUrl: config.local.sparkMasterUrl,
          artifactsDir: config.local.sparkArtifactsDir,
          python: config.local.sparkPython,
          s3Endpoint: config.local.s3Endpoint,
        },
        // The local cluster brings its own catalog and S3 settings (spark-defaults.conf).
        settings: settings({ ...config.spark.extraConf }),
        features: this.buckets.features,
        stateMachineName,
        sharedRunSlotStateMachineNames: [maintenanceName],
        logLevel: config.logLevel,
        eventBus: this.events.bus,
      });
    } else {
      this.compute = new SparkCompute(this, 'Spark', {
        rawResults: this.buckets.rawResults,
        features: this.buckets.features,
        artifacts: this.buckets.artifacts,
        releaseLabel: config.emr.releaseLabel,
        maximumCpu: config.emr.maximumCpu,
        maximumMemory: config.emr.maximumMemory,
        maximumDisk: config.emr.maximumDisk,
        idleTimeoutMinutes: config.emr.idleTimeoutMinutes,
        catalogName: config.catalog.name,
        namespace: config.catalog.namespace,
        jobCode: props.sparkJobCode,
        codeVersionsKept: config.spark.codeVersionsKept,
        logLevel: config.logLevel,
      });
      this.queries = new FeatureQueries(this, 'Queries', {
        database: this.compute.namespace,
        features: this.buckets.features,
        results: this.buckets.artifacts,
      });
      this.queries.node.addDependency(this.compute.database);
      this.functions = new SparkJobFunctions(this, 'Functions', {
        backend: { kind: 'emr-serverless', compute: this.compute },
        settings: settings(this.compute.sparkConf(config.spark.shufflePartitions, config.spark.extraConf)),
        features: this.buckets.features,
        stateMachineName,
        sharedRunSlotStateMachineNames: [maintenanceName],
        logLevel: config.logLevel,
        eventBus: this.events.bus,
      });
    }

    this.runReport = new RunReportFunction(this, 'RunReport', {
      features: this.buckets.features,
      summaryUri: this.summaryUri,
      reports: this.buckets.artifacts,
      s3Endpoint: local ? config.local.s3Endpoint : undefined,
      logLevel: config.logLevel,
    });
    // The id keeps its first name: renaming it would change the logical ids and replace the
    // deployed state machine (and its execution history) on the next deploy.
    this.pipeline = new FeaturePipeline(this, 'FeatureProcessing', {
      stateMachineName,
      functions: this.functions.functions,
      sharesRunSlotWith: [TableMaintenance.stateMachineArn(this, maintenanceName)],
      reportFunction: this.runReport.function,
      featuresJob: config.jobs.features,
      mlFeaturesJob: config.jobs.mlFeatures,
      pollIntervalSeconds: config.pollIntervalSeconds,
      runSlotRetry: {
        intervalSeconds: config.runSlot.retryIntervalSeconds,
        backoffRate: config.runSlot.backoffRate,
        maxAttempts: config.runSlot.maxAttempts,
      },
      eventBus: this.events.bus,
    });
    this.events.addProducer(this.pipeline.stateMachine.role);
    // read-summary puts the runs' data-quality findings on the bus.
    this.events.addProducer(roleOf(this.functions.functions['read-summary']));
    this.alerts = new PipelineAlerts(this, 'Alerts', {
      stateMachine: this.pipeline.stateMachine,
      email: config.alertEmail,
      jobSlaSeconds: { features: config.jobs.features.slaSeconds, mlFeatures: config.jobs.mlFeatures.slaSeconds },
      jobPollInterval: Duration.seconds(config.pollIntervalSeconds),
      eventBus: this.events.bus,
      expectSuccessWithin: config.schedule.enabled ? NO_SUCCESS_ALARM_AFTER : undefined,
      reports: this.buckets.artifacts,
    });
    // A failed job attempt alerts at once, not only when the execution has finally failed.
    this.alerts.notify(this.pipeline.failedJobAttemptsAlarm);
    this.qualityFindings = new QualityFindingsAlert(this, 'QualityFindings', {
      eventBus: this.events.bus,
      topic: this.alerts.topic,
      deadLetterQueue: this.alerts.deadLetterQueue,
    });
    this.schedule = new PipelineSchedule(this, 'Schedule', {
      stateMachine: this.pipeline.stateMachine,
      expression: config.schedule.expression,
      timezone: config.schedule.timezone,
      enabled: config.schedule.enabled,
      deadLetterQueue: this.alerts.deadLetterQueue,
    });
    this.maintenance = new TableMaintenance(this, 'TableMaintenance', {
      stateMachineName: maintenanceName,
      functions: this.functions.functions,
      sharesRunSlotWith: [stateMachineName],
      defaults: {
        retentionDays: config.maintenance.retentionDays,
        retainLast: config.maintenance.retainLast,
        targetFileSizeBytes: config.maintenance.targetFileSizeBytes,
      },
      pollIntervalSeconds: config.pollIntervalSeconds,
      runSlotRetry: {
        intervalSeconds: config.runSlot.retryIntervalSeconds,
        backoffRate: config.runSlot.backoffRate,
        maxAttempts: config.runSlot.maxAttempts,
      },
      schedule: { enabled: config.maintenance.enabled, expression: config.maintenance.expression },
      deadLetterQueue: this.alerts.deadLetterQueue,
      logLevel: config.logLevel,
    });
    this.alerts.notify(this.maintenance.failedAlarm);
    this.objectArrivals = new ObjectArrivalsTrigger(this, 'ObjectArrivals', {
      rawResults: this.buckets.rawResults,
      featurePipeline: this.pipeline.stateMachine,
      stateMachineName: `${config.stackName}-object-arrivals`,
      quietMinutes: config.objectArrivals.quietMinutes,
      enabled: config.objectArrivals.enabled,
      eventBus: this.events.bus,
      deadLetterQueue: this.alerts.deadLetterQueue,
      logLevel: config.logLevel,
    });
    this.events.addProducer(this.objectArrivals.stateMachine.role);
    this.alerts.watch(this.objectArrivals.stateMachine, 'Object arrivals');

    const target = r2Target(config);
    if (target) {
      const { r2 } = config;
      this.r2Sync = new R2Sync(this, 'R2Sync', {
        stateMachineName: `${config.stackName}-r2-sync`,
        source: {
          bucket: this.buckets.features,
          // Where the catalogs put the tables: the JDBC catalog under <namespace>/, Glue under <namespace>.db/.
          prefix: `warehouse/${config.catalog.namespace}${local ? '' : '.db'}/`,
          ...(local ? { endpoint: config.local.s3Endpoint, region: config.local.s3Region } : {}),
        },
        destination: {
          endpoint: target.endpoint,
          region: target.region,
          bucket: r2.bucket,
          prefix: r2.prefix,
          credentialsSecret: secretsmanager.Secret.fromSecretNameV2(this, 'R2Credentials', r2.credentialsSecretName),
        },
        tables: r2.tables,
        transfers: r2.transfers,
        checkers: r2.checkers,
        partSizeMiB: r2.partSizeMiB,
        multipartThresholdMiB: r2.multipartThresholdMiB,
        partConcurrency: r2.partConcurrency,
        maxDeleteFraction: r2.maxDeleteFraction,
        maxDeleteCount: r2.maxDeleteCount,
        logLevel: config.logLevel,
        eventBus: this.events.bus,
      });
      this.events.addProducer(this.r2Sync.stateMachine.role);
      this.r2SyncTriggers = new R2SyncTriggers(this, 'R2SyncTriggers', {
        stateMachine: this.r2Sync.stateMachine,
        onFeaturesUpdated: r2.onFeaturesUpdated,
        schedule: r2.schedule,
        eventBus: this.events.bus,
        deadLetterQueue: this.alerts.deadLetterQueue,
      });
      this.alerts.watch(this.r2Sync.stateMachine, 'R2 sync');
    }

    if (batchEnabled(config)) {
      this.vqeBatch = this.makeVqeBatch(config, local);
      this.events.addProducer(this.vqeBatch.stateMachine.role);
      this.batchFinishedTrigger = new BatchFinishedTrigger(this, 'BatchFinishedTrigger', {
        featurePipeline: this.pipeline.stateMachine,
        enabled: config.batch.startFeaturePipeline,
        eventBus: this.events.bus,
        deadLetterQueue: this.alerts.deadLetterQueue,
      });
      // The batch's page is named by its batch id, <start time>-<execution name>; the status-change
      // event has the start only in epoch milliseconds, so the mail spells out the pattern (no <>:
      // EventBridge would read it as an input-transformer variable).
      this.alerts.watch(this.vqeBatch.stateMachine, 'VQE batch', (name) => reportKey(`YYYYMMDDTHHMMSSZ-${name}`));
    }

    // Last, so that every alarm notify() was given so far is on it.
    this.dashboard = new PipelineDashboard(this, 'Dashboard', {
      featurePipeline: this.pipeline.stateMachine,
      r2Tables: target ? config.r2.tables : undefined,
      batchLanes: this.vqeBatch ? LANES : undefined,
      alarms: this.alerts.alarms,
    });
  }

  private makeVqeBatch(config: Readonly<AppConfig>, local: boolean): VqeBatch {
    const { batch } = config;
    const rawResults = this.buckets.rawResults;
    return new VqeBatch(this, 'VqeBatch', {
      stateMachineName: `${config.stackName}-vqe-batch`,
      stateBucket: rawResults,
      eventBus: this.events.bus,
      ...(local ? { stateEndpoint: { endpoint: config.local.s3Endpoint, region: config.local.s3Region } } : {}),
      launcher: local
        ? { kind: 'local' }
        : ssmLauncherSpec(
            batch,
            batch.hostRoleArn ? iam.Role.fromRoleArn(this, 'GpuHostRole', batch.hostRoleArn) : undefined,
          ),
      moleculesFiles: local ? { ...batch.moleculesFiles, ...LOCAL_MOLECULES } : batch.moleculesFiles,
      extraArgs: batch.extraArgs,
      // Into the raw bucket below experiments/, where job 1 reads them; locally the same path
      // with mini-VQE (host-upload: its folder uploaded to Garage; direct: --output s3://...).
      delivery: {
        mode: batch.delivery.mode,
        bucket: rawResults,
        prefix: 'experiments/experiment.vqe/',
        folderFlag: batch.delivery.folderFlag,
        s3Flag: batch.delivery.s3Flag,
        hostDir: batch.delivery.hostDir,
      },
      runTimeout: Duration.minutes(batch.runTimeoutMinutes),
      pollInterval: Duration.seconds(batch.pollIntervalSeconds),
      chunkSize: batch.chunkSize,
      logLevel: config.logLevel,
      report: {
        features: this.buckets.features,
        summaryUri: this.summaryUri,
        reports: this.buckets.artifacts,
        s3Endpoint: local ? config.local.s3Endpoint : undefined,
      },
    });
  }
}

/** How the batch reaches the GPU host on AWS (loadConfig has refused a missing host or build folder already). */
function ssmLauncherSpec(batch: Readonly<AppConfig['batch']>, hostRole: iam.IRole | undefined): VqeBatchLauncher {
  const { host, build } = batch;
  if (!host) throw new Error('QuantumPipelineStack: batch.host is required on the aws profile, got nothing');
  if (build.enabled && !build.contextDir) {
    throw new Error('QuantumPipelineStack: batch.build.contextDir is required when batch.build.enabled, got nothing');
  }
  return {
    kind: 'ssm',
    target: host,
    image: batch.image,
    laneDevices: batch.laneDevices,
    dockerRunOptions: batch.dockerRunOptions,
    containerSecrets: batch.containerSecrets,
    ...(hostRole ? { hostRole } : {}),
    ...(build.enabled && build.contextDir
      ? {
          build: {
            contextDir: build.contextDir,
            cudaArch: build.cudaArch,
            ...(build.dockerfile ? { dockerfile: build.dockerfile } : {}),
          },
        }
      : {}),
  };
}
