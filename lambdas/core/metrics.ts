/**
 * CloudWatch metrics as Embedded Metric Format (EMF) log lines: each flush writes JSON objects
 * whose `_aws` block tells CloudWatch Logs which top-level members are metric values and which are
 * dimensions, so a Lambda publishes metrics by logging, without a PutMetricData call or its
 * permission. Namespace `QuantumPipeline`; every metric has the dimensions Stack and Job, and Table
 * or Lane where it is per table or per lane. The run id travels as a plain member (RunId), not a
 * dimension: a dimension value per run would make a new metric per run.
 *
 * Bad input never breaks a line: a value that is not a finite number, a bad name or a bad
 * dimension value is left out with a WARN naming it, and the rest of the line is written.
 */
import type { Environment } from './env';
import { Logger } from './logger';

import {
  METRIC_DIMENSIONS,
  METRIC_NAMESPACE,
  METRIC_UNITS,
  METRICS,
  type MetricKey,
  type MetricUnit,
  STACK_NAME_ENV,
} from './metric-names';

export {
  METRIC_DIMENSIONS,
  METRIC_JOBS,
  METRIC_NAMESPACE,
  METRIC_UNITS,
  METRICS,
  type MetricKey,
  type MetricUnit,
  STACK_NAME_ENV,
} from './metric-names';

/** Where each line goes. */
export type MetricSink = (line: string) => void;
/** What the emitter says a skipped value with (a Logger does). */
export interface WarnLog {
  warn(message: string, fields?: Record<string, unknown>): void;
}
/** Plain members of every line (not dimensions): e.g. RunId. */
export type MetricProperties = Readonly<Record<string, string | number | boolean>>;

// CloudWatch's limits (MetricDatum, Dimension, EMF): names 1-255 characters, dimension values
// 1-1024, printable ASCII with one non-space character; at most 100 metrics per directive and
// 100 values per metric; at most 30 dimensions in a set.
const MAX_NAME = 255;
const MAX_DIMENSION_VALUE = 1024;
const MAX_METRICS_PER_LINE = 100;
const MAX_VALUES = 100;
const MAX_DIMENSIONS = 30;
const printableAscii = (text: string, max: number) =>
  text.length <= max && /^[\x20-\x7e]*[\x21-\x7e][\x20-\x7e]*$/.test(text);
/** A metric or dimension name CloudWatch accepts (a dimension name must not start with a colon). */
export const validMetricName = (name: string): boolean => printableAscii(name, MAX_NAME) && !name.startsWith(':');
export const validDimensionValue = (value: string): boolean => printableAscii(value, MAX_DIMENSION_VALUE);

const stdout: MetricSink = (line) => process.stdout.write(`${line}\n`);

export interface MetricEmitterOptions {
  /** The Stack dimension of every metric; undefined makes an emitter that writes nothing. */
  readonly stack: string | undefined;
  /** @default standard output, which Lambda sends to CloudWatch Logs, where EMF is extracted */
  readonly sink?: MetricSink;
  /** Where skipped values are reported. @default a JSON logger on standard output */
  readonly log?: WarnLog;
  /** @default Date.now */
  readonly now?: () => number;
}

export class MetricEmitter {
  readonly stack: string | undefined;
  private readonly sink: MetricSink;
  private readonly log: WarnLog;
  private readonly now: () => number;

  constructor(options: MetricEmitterOptions) {
    this.sink = options.sink ?? stdout;
    this.log = options.log ?? new Logger('metrics');
    this.now = options.now ?? Date.now;
    const stack = options.stack;
    if (stack !== undefined && !validDimensionValue(stack)) {
      this.log.warn(`metrics: the stack name ${JSON.stringify(stack)} is no CloudWatch dimension value: no metrics`);
      this.stack = undefined;
    } else {
      this.stack = stack;
    }
  }

  /** Collects the values of one job (and run); `flush()` writes them. */
  batch(job: string, properties: MetricProperties = {}): MetricBatch {
    return new MetricBatch(this.stack === undefined ? undefined : this, job, properties);
  }

  /** @internal the line writer of MetricBatch */
  write(document: Record<string, unknown>): void {
    this.sink(JSON.stringify(document));
  }

  /** @internal */
  warn(message: string, fields?: Record<string, unknown>): void {
    this.log.warn(message, fields);
  }

  /** @internal */
  time(): number {
    return this.now();
  }
}

interface Group {
  readonly dimensions: Readonly<Record<string, string>>;
  readonly values: Map<string, { unit: MetricUnit; values: number[] }>;
}

/** The values of one job, grouped by their dimension set: one line per set at each flush. */
export class MetricBatch {
  private readonly groups = new Map<string, Group>();

  constructor(
    private readonly emitter: MetricEmitter | undefined,
    private readonly job: string,
    private readonly properties: MetricProperties,
  ) {}

  /**
   * Records `value` of the metric `key` (METRICS), under Stack, Job and the `extra` dimensions
   * (e.g. `{ Table: 'molecules' }`). A value that is not a finite number is skipped with a WARN.
   */
  put(key: MetricKey, value: number, extra: Readonly<Record<string, string>> = {}): this {
    const { name, unit } = METRICS[key];
    return this.add(name, value, unit, extra);
  }

  /** As put(), for any name and unit. */
  add(name: string, value: number, unit: MetricUnit, extra: Readonly<Record<string, string>> = {}): this {
    const emitter = this.emitter;
    if (!emitter) return this;
    const where = { metric: name, job: this.job, ...extra };
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      emitter.warn(`metric ${name}: skipped the value ${String(value)}, not a finite number`, where);
      return this;
    }
    if (!validMetricName(name) || name in this.properties || name === '_aws') {
      emitter.warn(`metric ${JSON.stringify(name)}: not a usable CloudWatch metric name, skipped`, where);
      return this;
    }
    if (!(METRIC_UNITS as readonly string[]).includes(unit)) {
      emitter.warn(`metric ${name}: unit ${JSON.stringify(unit)} is not a CloudWatch unit, skipped`, where);
      return this;
    }
    const dimensions: Record<string, string> = {
      [METRIC_DIMENSIONS.stack]: emitter.stack as string,
      [METRIC_DIMENSIONS.job]: this.job,
      ...extra,
    };
    if (name in dimensions) {
      emitter.warn(`metric ${name}: the name is also a dimension, skipped`, where);
      return this;
    }
    const id = JSON.stringify(Object.entries(dimensions).sort(([a], [b]) => a.localeCompare(b)));
    let group = this.groups.get(id);
    if (!group) {
      group = { dimensions, values: new Map() };
      this.groups.set(id, group);
    }
    const known = group.values.get(name);
    if (!known) group.values.set(name, { unit, values: [value] });
    else if (known.unit !== unit)
      emitter.warn(`metric ${name}: recorded as ${known.unit} already, ${unit} skipped`, where);
    else if (known.values.length >= MAX_VALUES)
      emitter.warn(`metric ${name}: ${MAX_VALUES} values already, skipped`, where);
    else known.values.push(value);
    return this;
  }

  /** Writes what was recorded, one line per dimension set (and per 100 metrics), and empties the batch. */
  flush(): void {
    const emitter = this.emitter;
    if (!emitter) return;
    const timestamp = emitter.time();
    for (const group of this.groups.values()) this.writeGroup(emitter, group, timestamp);
    this.groups.clear();
  }

  private writeGroup(emitter: MetricEmitter, group: Group, timestamp: number): void {
    const names = Object.keys(group.dimensions);
    const bad = Object.entries(group.dimensions).find(
      ([name, value]) => !validMetricName(name) || typeof value !== 'string' || !validDimensionValue(value),
    );
    if (bad || names.length > MAX_DIMENSIONS) {
      emitter.warn(
        bad
          ? `metrics: dimension ${bad[0]} = ${JSON.stringify(bad[1])} is not a CloudWatch dimension, line skipped`
          : `metrics: ${names.length} dimensions, CloudWatch takes ${MAX_DIMENSIONS}, line skipped`,
        { metrics: [...group.values.keys()], job: this.job },
      );
      return;
    }
    const entries = [...group.values.entries()];
    for (let start = 0; start < entries.length; start += MAX_METRICS_PER_LINE) {
      const slice = entries.slice(start, start + MAX_METRICS_PER_LINE);
      emitter.write({
        _aws: {
          Timestamp: timestamp,
          CloudWatchMetrics: [
            {
              Namespace: METRIC_NAMESPACE,
              Dimensions: [names],
              Metrics: slice.map(([name, { unit }]) => ({ Name: name, Unit: unit })),
            },
          ],
        },
        ...this.properties,
        ...group.dimensions,
        ...Object.fromEntries(slice.map(([name, { values }]) => [name, values.length === 1 ? values[0] : values])),
      });
    }
  }
}

/**
 * The emitter of a deployed function: the Stack dimension from STACK_NAME_ENV. Without it (a test,
 * a script) it writes nothing; inside Lambda that is a deployment error, said once as a WARN.
 */
export function metricEmitterFromEnv(
  env: Environment,
  options: Omit<MetricEmitterOptions, 'stack'> = {},
): MetricEmitter {
  const stack = env[STACK_NAME_ENV]?.trim() || undefined;
  if (!stack && env.AWS_LAMBDA_FUNCTION_NAME) {
    (options.log ?? new Logger('metrics')).warn(`metrics: ${STACK_NAME_ENV} is not set, so no metrics are written`);
  }
  return new MetricEmitter({ ...options, stack });
}
