/**
 * The pipeline's CloudWatch dashboard: runs of the feature pipeline (succeeded, failed, timed
 * out) and each job's duration and live running time, rows and files per day, quarantine, the
 * VQE batch's lanes (progress and ETA), the R2 sync's volume, and the state of every alarm.
 *
 * The custom metrics come from EMF lines the Lambda steps write (lambdas/core/metrics.ts); their
 * names come from lambdas/core/metric-names.ts through the core contract, the one list both sides
 * use. docs/operations.md explains each metric.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { METRIC_DIMENSIONS, METRIC_JOBS, METRIC_NAMESPACE, METRICS, type MetricKey } from '../../lambdas/core/contract';

/** Namespace, dimensions, job names and metric names of the steps' EMF lines, from the one list both sides share. */
export const PIPELINE_METRICS = {
  namespace: METRIC_NAMESPACE,
  dimensions: METRIC_DIMENSIONS,
  jobs: METRIC_JOBS,
  names: Object.fromEntries(Object.entries(METRICS).map(([key, metric]) => [key, metric.name])) as {
    readonly [K in MetricKey]: (typeof METRICS)[K]['name'];
  },
} as const;
type MetricName = keyof typeof PIPELINE_METRICS.names;

/** An AlarmStatusWidget shows at most this many alarms. */
const MAX_ALARMS = 100;
/** The live graphs (running time, lanes): a poll is at most a minute apart by default. */
const LIVE_PERIOD = Duration.minutes(5);
const DIMENSION_VALUE = /^[\x21-\x7e]{1,1024}$/;

export interface PipelineDashboardProps {
  /** Letters, digits, `-` and `_`, up to 255. @default `<stack name>-pipeline` */
  readonly dashboardName?: string;
  /** The feature pipeline state machine, whose executions the runs widget counts. */
  readonly featurePipeline: sfn.IStateMachine;
  /** The ML tables the R2 sync mirrors. @default none: no R2 sync widgets */
  readonly r2Tables?: readonly string[];
  /** The VQE batch's lanes. @default none: no batch widgets */
  readonly batchLanes?: readonly string[];
  /** Alarms in the status widget (more with addAlarms()). @default none */
  readonly alarms?: readonly cloudwatch.IAlarm[];
  /** The period of the per-day graphs (runs, rows, files, quarantine, R2 volume): whole minutes. @default 1 day */
  readonly period?: Duration;
}

export class PipelineDashboard extends Construct {
  readonly dashboard: cloudwatch.Dashboard;
  /** The alarms the status widget shows; read when the template is synthesized. */
  private readonly alarms: cloudwatch.IAlarm[];
  private readonly stackName: string;
  private readonly period: Duration;

  constructor(scope: Construct, id: string, props: PipelineDashboardProps) {
    super(scope, id);
    PipelineDashboard.validateProps(props);
    this.stackName = Stack.of(this).stackName;
    this.period = props.period ?? Duration.days(1);
    this.alarms = [...(props.alarms ?? [])];
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: props.dashboardName ?? `${this.stackName}-pipeline`,
      defaultInterval: Duration.days(14),
    });
    const { jobs } = PIPELINE_METRICS;
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          `# Quantum pipeline: ${this.stackName}\n` +
          'Runs, rows and files per day, the VQE batch lanes while they run, the R2 sync volume and the alarms. ' +
          'Every metric and alarm, and what to do: docs/operations.md, "Metrics and alarms".',
        width: 24,
        height: 2,
      }),
    );
    this.dashboard.addWidgets(
      this.graph('Feature pipeline runs per day', [
        ...(['ExecutionsSucceeded', 'ExecutionsFailed', 'ExecutionsTimedOut'] as const).map((name) =>
          props.featurePipeline.metric(name, { statistic: 'Sum', period: this.period, label: name.slice(10) }),
        ),
      ]),
      this.graph(
        'Job duration (s)',
        [jobs.features, jobs.mlFeatures].map((job) =>
          this.metric('durationSeconds', { Job: job }, 'Maximum', this.period, job),
        ),
      ),
      this.graph(
        'Job running time now (s), alarm above its SLA',
        [jobs.features, jobs.mlFeatures].map((job) =>
          this.metric('jobElapsedSeconds', { Job: job }, 'Maximum', LIVE_PERIOD, job),
        ),
      ),
    );
    this.dashboard.addWidgets(
      this.graph('New rows per day, per table', [this.newRowsPerTable()]),
      this.graph(
        'Files per day (job 1)',
        (['filesListed', 'filesIngested'] as const).map((name) =>
          this.metric(name, { Job: jobs.features }, 'Sum', this.period),
        ),
      ),
      this.graph(
        'Quarantine per day (job 1)',
        (['filesQuarantined', 'duplicateExperiments'] as const).map((name) =>
          this.metric(name, { Job: jobs.features }, 'Sum', this.period),
        ),
      ),
    );
    this.dashboard.addWidgets(
      this.graph('Table maintenance: data files per table, before and after', [
        this.perTableSearch('dataFilesBefore', jobs.maintenance),
        this.perTableSearch('dataFilesAfter', jobs.maintenance),
      ]),
      this.graph('Table maintenance: data bytes per table, before and after', [
        this.perTableSearch('dataBytesBefore', jobs.maintenance),
        this.perTableSearch('dataBytesAfter', jobs.maintenance),
      ]),
      this.graph('Table maintenance: snapshots per table, before and after', [
        this.perTableSearch('snapshotsBefore', jobs.maintenance),
        this.perTableSearch('snapshotsAfter', jobs.maintenance),
      ]),
    );
    const lanes = props.batchLanes ?? [];
    if (lanes.length > 0) {
      const lane = (name: MetricName, value: string) =>
        this.metric(
          name,
          { Job: jobs.vqeBatch, Lane: value },
          'Maximum',
          LIVE_PERIOD,
          `${value} ${PIPELINE_METRICS.names[name]}`,
        );
      this.dashboard.addWidgets(
        this.graph(
          'VQE batch: runs per lane',
          lanes.flatMap((value) =>
            (['runsDone', 'runsFailed', 'runsTimedOut', 'runsPending'] as const).map((name) => lane(name, value)),
          ),
          12,
        ),
        this.graph(
          'VQE batch: ETA and mean run time per lane (s)',
          lanes.flatMap((value) => (['etaSeconds', 'meanRunSeconds'] as const).map((name) => lane(name, value))),
          12,
        ),
      );
    }
    const tables = props.r2Tables ?? [];
    if (tables.length > 0) {
      const table = (name: MetricName, value: string) =>
        this.metric(
          name,
          { Job: jobs.r2Sync, Table: value },
          'Sum',
          this.period,
          `${value} ${PIPELINE_METRICS.names[name]}`,
        );
      const perTable = (names: readonly MetricName[]) =>
        tables.flatMap((value) => names.map((name) => table(name, value)));
      this.dashboard.addWidgets(
        this.graph('R2 sync: bytes per day', perTable(['bytesCopied', 'bytesDeleted'])),
        this.graph('R2 sync: objects per day', perTable(['objectsCopied', 'objectsDeleted'])),
        this.graph('R2 sync: seconds per day', perTable(['syncSeconds'])),
      );
    }
    this.dashboard.addWidgets(
      new cloudwatch.AlarmStatusWidget({
        title: 'Alarms',
        // The same array: alarms added later (addAlarms) are in the body when it is rendered.
        alarms: this.alarms,
        width: 24,
        height: 4,
      }),
    );
  }

  /** Adds alarms to the status widget. */
  addAlarms(...alarms: cloudwatch.IAlarm[]): void {
    if (this.alarms.length + alarms.length > MAX_ALARMS) {
      throw new Error(
        `PipelineDashboard: an alarm status widget shows at most ${MAX_ALARMS} alarms, got ${this.alarms.length + alarms.length}`,
      );
    }
    this.alarms.push(...alarms);
  }

  private metric(
    name: MetricName,
    dimensions: Record<string, string>,
    statistic: string,
    period: Duration,
    label?: string,
  ): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: PIPELINE_METRICS.namespace,
      metricName: PIPELINE_METRICS.names[name],
      dimensionsMap: { [PIPELINE_METRICS.dimensions.stack]: this.stackName, ...dimensions },
      statistic,
      period,
      label: label ?? PIPELINE_METRICS.names[name],
    });
  }

  /** NewRows of every table either job wrote, found by a search: the tables need not be listed here. */
  private newRowsPerTable(): cloudwatch.MathExpression {
    const { namespace, dimensions: d, names } = PIPELINE_METRICS;
    return new cloudwatch.MathExpression({
      expression:
        `SEARCH('{${namespace},${d.stack},${d.job},${d.table}} MetricName="${names.newRows}" ` +
        `${d.stack}="${this.stackName}"', 'Sum', ${this.period.toSeconds()})`,
      usingMetrics: {},
      period: this.period,
      label: '',
    });
  }

  /** One metric of a job for every table it was written for (the tables are not known at synth). */
  private perTableSearch(name: MetricName, job: string): cloudwatch.MathExpression {
    const { namespace, dimensions: d, names } = PIPELINE_METRICS;
    return new cloudwatch.MathExpression({
      expression:
        `SEARCH('{${namespace},${d.stack},${d.job},${d.table}} MetricName="${names[name]}" ` +
        `${d.stack}="${this.stackName}" ${d.job}="${job}"', 'Maximum', ${this.period.toSeconds()})`,
      usingMetrics: {},
      period: this.period,
      label: '',
    });
  }

  private graph(title: string, metrics: cloudwatch.IMetric[], width = 8): cloudwatch.GraphWidget {
    return new cloudwatch.GraphWidget({ title, left: metrics, width, height: 6 });
  }

  /** Checks the props, naming the prop and the value, before anything is built. */
  private static validateProps(props: PipelineDashboardProps): void {
    const name = props.dashboardName;
    if (name !== undefined && !/^[A-Za-z0-9_-]{1,255}$/.test(name)) {
      throw new Error(
        `PipelineDashboard: dashboardName must be 1-255 letters, digits, - or _, got ${JSON.stringify(name)}`,
      );
    }
    const period = props.period;
    if (period !== undefined) {
      const seconds = period.toSeconds({ integral: false });
      if (!Number.isInteger(seconds) || seconds < 60 || seconds % 60 !== 0) {
        throw new Error(`PipelineDashboard: period must be whole minutes, got ${period.toHumanString()}`);
      }
    }
    for (const [prop, values] of [
      ['r2Tables', props.r2Tables],
      ['batchLanes', props.batchLanes],
    ] as const) {
      const bad = (values ?? []).find((value) => !DIMENSION_VALUE.test(value));
      if (bad !== undefined) {
        throw new Error(`PipelineDashboard: ${prop} must be CloudWatch dimension values, got ${JSON.stringify(bad)}`);
      }
    }
    const count = props.alarms?.length ?? 0;
    if (count > MAX_ALARMS) {
      throw new Error(`PipelineDashboard: alarms must be at most ${MAX_ALARMS}, got ${count}`);
    }
  }
}
