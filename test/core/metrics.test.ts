/**
 * The EMF emitter: each line must be a document CloudWatch Logs turns into metrics, as the
 * Embedded Metric Format specification describes it: a root object whose `_aws` member holds
 * `Timestamp` (epoch milliseconds) and `CloudWatchMetrics`, an array of directives with
 * `Namespace`, `Dimensions` (an array of dimension sets, each an array of member names) and
 * `Metrics` (`Name`, `Unit`); every name a directive refers to is a top-level member, a dimension
 * with a string value, a metric with a number (or an array of numbers); other members are plain
 * properties.
 */
import { describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import {
  METRIC_NAMESPACE,
  METRIC_UNITS,
  METRICS,
  MetricEmitter,
  metricEmitterFromEnv,
  STACK_NAME_ENV,
} from '../../lambdas/core/metrics';

const NOW = Date.parse('2026-12-02T02:10:00.000Z');

/** An emitter whose lines and warnings land, parsed, in two arrays. */
function capture(options: { stack?: string } = { stack: 'qp-test' }) {
  const { stack } = options;
  const lines: string[] = [];
  const warnings: Record<string, unknown>[] = [];
  const log = new Logger('metrics', {}, 'INFO', (line) => warnings.push(JSON.parse(line) as Record<string, unknown>));
  const emitter = new MetricEmitter({ stack, sink: (line) => lines.push(line), log, now: () => NOW });
  return { emitter, lines, warnings, docs: () => lines.map((line) => JSON.parse(line) as Record<string, unknown>) };
}

/** What the specification requires of one document; returns the problems found. */
function emfProblems(doc: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const aws = doc._aws as { Timestamp?: unknown; CloudWatchMetrics?: unknown } | undefined;
  if (!aws || typeof aws !== 'object') return ['no _aws object'];
  if (!Number.isInteger(aws.Timestamp)) problems.push('Timestamp is not an integer of milliseconds');
  if (!Array.isArray(aws.CloudWatchMetrics)) return [...problems, 'CloudWatchMetrics is not an array'];
  for (const directive of aws.CloudWatchMetrics as Record<string, unknown>[]) {
    const extra = Object.keys(directive).filter((key) => !['Namespace', 'Dimensions', 'Metrics'].includes(key));
    if (extra.length) problems.push(`directive has members ${extra.join(', ')}`);
    if (typeof directive.Namespace !== 'string' || directive.Namespace.length === 0) problems.push('no Namespace');
    for (const set of directive.Dimensions as string[][]) {
      if (set.length > 30) problems.push('more than 30 dimensions');
      for (const name of set)
        if (typeof doc[name] !== 'string') problems.push(`dimension ${name} is not a string member`);
    }
    const metrics = directive.Metrics as { Name: string; Unit?: string }[];
    if (metrics.length > 100) problems.push('more than 100 metrics');
    for (const metric of metrics) {
      const value = doc[metric.Name];
      const numbers = Array.isArray(value) ? value : [value];
      if (!numbers.every((n) => typeof n === 'number' && Number.isFinite(n)))
        problems.push(`${metric.Name} is no number`);
      if (metric.Unit !== undefined && !(METRIC_UNITS as readonly string[]).includes(metric.Unit))
        problems.push(`${metric.Name} has unit ${metric.Unit}`);
    }
  }
  return problems;
}

describe('MetricEmitter', () => {
  it('writes one EMF line per dimension set: _aws block, dimensions, values and the run id as top-level members', () => {
    // Prepare
    const { emitter, lines, docs } = capture();
    const batch = emitter.batch('feature_processing', { RunId: 'nightly-2026-12-02' });

    // Act
    batch.put('durationSeconds', 151.284).put('filesListed', 112).put('newRows', 97, { Table: 'molecules' });
    batch.flush();

    // Assess
    expect(lines).toHaveLength(2);
    for (const line of lines) expect(line).not.toContain('\n');
    expect(docs()).toEqual([
      {
        _aws: {
          Timestamp: NOW,
          CloudWatchMetrics: [
            {
              Namespace: 'QuantumPipeline',
              Dimensions: [['Stack', 'Job']],
              Metrics: [
                { Name: 'DurationSeconds', Unit: 'Seconds' },
                { Name: 'FilesListed', Unit: 'Count' },
              ],
            },
          ],
        },
        RunId: 'nightly-2026-12-02',
        Stack: 'qp-test',
        Job: 'feature_processing',
        DurationSeconds: 151.284,
        FilesListed: 112,
      },
      {
        _aws: {
          Timestamp: NOW,
          CloudWatchMetrics: [
            {
              Namespace: 'QuantumPipeline',
              Dimensions: [['Stack', 'Job', 'Table']],
              Metrics: [{ Name: 'NewRows', Unit: 'Count' }],
            },
          ],
        },
        RunId: 'nightly-2026-12-02',
        Stack: 'qp-test',
        Job: 'feature_processing',
        Table: 'molecules',
        NewRows: 97,
      },
    ]);
    for (const doc of docs()) expect(emfProblems(doc)).toEqual([]);
  });

  it('skips a value that is not a finite number with a WARN naming the metric and the value, and keeps the line whole', () => {
    // Prepare
    const { emitter, docs, warnings } = capture();
    const batch = emitter.batch('r2_sync', { RunId: 'sync-1' });

    // Act
    batch
      .put('objectsCopied', Number.NaN, { Table: 'ml_run_summary' })
      .put('bytesCopied', Number.POSITIVE_INFINITY, { Table: 'ml_run_summary' })
      .put('syncSeconds', 4.2, { Table: 'ml_run_summary' })
      .add('Broken', '12' as unknown as number, 'Count', { Table: 'ml_run_summary' });
    batch.flush();

    // Assess
    expect(docs()).toHaveLength(1);
    const doc = docs()[0];
    expect(emfProblems(doc)).toEqual([]);
    expect(doc.SyncSeconds).toBe(4.2);
    expect(doc).not.toHaveProperty('ObjectsCopied');
    expect(doc).not.toHaveProperty('BytesCopied');
    expect((doc._aws as { CloudWatchMetrics: { Metrics: unknown[] }[] }).CloudWatchMetrics[0].Metrics).toEqual([
      { Name: 'SyncSeconds', Unit: 'Seconds' },
    ]);
    expect(warnings.map((w) => [w.level, w.message])).toEqual([
      ['WARN', 'metric ObjectsCopied: skipped the value NaN, not a finite number'],
      ['WARN', 'metric BytesCopied: skipped the value Infinity, not a finite number'],
      ['WARN', 'metric Broken: skipped the value 12, not a finite number'],
    ]);
    expect(warnings[0]).toMatchObject({ metric: 'ObjectsCopied', job: 'r2_sync', Table: 'ml_run_summary' });
  });

  it('refuses bad names, units and dimension values with a WARN, never with a broken line', () => {
    // Prepare
    const { emitter, lines, warnings } = capture();
    const batch = emitter.batch('vqe_batch', { RunId: 'b-1' });

    // Act
    batch
      .add('', 1, 'Count')
      .add(`M${'x'.repeat(255)}`, 1, 'Count')
      .add('RunId', 1, 'Count')
      .add('Lane', 1, 'Count', { Lane: 'cpu' })
      .add('Fine', 1, 'Furlongs' as never)
      .put('runsDone', 3, { Lane: 'gpu\u00e9' });
    batch.flush();

    // Assess
    expect(lines).toEqual([]);
    expect(warnings.map((w) => w.message)).toEqual([
      'metric "": not a usable CloudWatch metric name, skipped',
      `metric "M${'x'.repeat(255)}": not a usable CloudWatch metric name, skipped`,
      'metric "RunId": not a usable CloudWatch metric name, skipped',
      'metric Lane: the name is also a dimension, skipped',
      'metric Fine: unit "Furlongs" is not a CloudWatch unit, skipped',
      'metrics: dimension Lane = "gpu\u00e9" is not a CloudWatch dimension, line skipped',
    ]);
  });

  it('keeps a metric recorded twice as an array of values (EMF allows up to 100)', () => {
    // Prepare
    const { emitter, docs } = capture();
    const batch = emitter.batch('feature_processing');

    // Act
    batch.put('jobElapsedSeconds', 60).put('jobElapsedSeconds', 120);
    batch.flush();
    batch.flush(); // nothing left: a second flush writes nothing

    // Assess
    expect(docs()).toHaveLength(1);
    expect(docs()[0].JobElapsedSeconds).toEqual([60, 120]);
    expect(emfProblems(docs()[0])).toEqual([]);
  });

  it('splits more than 100 metrics of one dimension set over several lines', () => {
    // Prepare
    const { emitter, docs } = capture();
    const batch = emitter.batch('feature_processing');

    // Act
    for (let i = 0; i < 150; i += 1) batch.add(`Metric${i}`, i, 'Count');
    batch.flush();

    // Assess
    const counts = docs().map(
      (doc) => (doc._aws as { CloudWatchMetrics: { Metrics: unknown[] }[] }).CloudWatchMetrics[0].Metrics.length,
    );
    expect(counts).toEqual([100, 50]);
    expect(docs()[1].Metric149).toBe(149);
  });

  it('writes nothing when it has no stack name', () => {
    // Prepare
    const { emitter, lines, warnings } = capture({});

    // Act
    emitter.batch('feature_processing').put('durationSeconds', 3).flush();

    // Assess
    expect(lines).toEqual([]);
    expect(warnings).toEqual([]);
  });

  it('takes the stack from QP_STACK_NAME, and says so once inside Lambda when it is missing', () => {
    // Prepare
    const lines: string[] = [];
    const warnings: string[] = [];
    const log = { warn: (message: string) => warnings.push(message) };

    // Act
    metricEmitterFromEnv({ [STACK_NAME_ENV]: 'qp-prod' }, { sink: (line) => lines.push(line), log })
      .batch('r2_sync')
      .put('syncSeconds', 1, { Table: 't' })
      .flush();
    const silent = metricEmitterFromEnv({ AWS_LAMBDA_FUNCTION_NAME: 'fn' }, { sink: (line) => lines.push(line), log });
    silent.batch('r2_sync').put('syncSeconds', 1, { Table: 't' }).flush();

    // Assess
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0])).toMatchObject({ Stack: 'qp-prod', Job: 'r2_sync', Table: 't', SyncSeconds: 1 });
    expect(warnings).toEqual(['metrics: QP_STACK_NAME is not set, so no metrics are written']);
  });

  it('names every metric of the catalogue with a CloudWatch unit, in the QuantumPipeline namespace', () => {
    // Prepare + Act
    const units = Object.values(METRICS).map((metric) => metric.unit);

    // Assess
    expect(METRIC_NAMESPACE).toBe('QuantumPipeline');
    for (const unit of units) expect(METRIC_UNITS).toContain(unit);
    expect(new Set(Object.values(METRICS).map((metric) => metric.name)).size).toBe(Object.keys(METRICS).length);
  });
});
