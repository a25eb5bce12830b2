/** The Spark job of each pipeline step, described once in backend-neutral terms. */
import { InvalidInputError } from '../core/errors';
import {
  ENTRY_SCRIPT,
  type JobSpec,
  type PipelineSettings,
  PY_FILES_ARCHIVE,
  type Reprocess,
  type RunContext,
  type SparkJobKind,
} from './contract';

function jobArguments(kind: SparkJobKind, run: RunContext, settings: PipelineSettings): string[] {
  const common = [
    '--run-id',
    run.runId,
    '--catalog',
    settings.catalog,
    '--namespace',
    settings.namespace,
    '--summary-uri',
    settings.summaryUri,
  ];
  const { options } = run;
  if (kind === 'maintenance') {
    const m = run.maintenance;
    if (!m) {
      throw new InvalidInputError(
        'maintenance job: run.maintenance is missing (only the table-maintenance state machine submits it)',
      );
    }
    return [
      ...common,
      '--retention-days',
      String(m.retentionDays),
      '--retain-last',
      String(m.retainLast),
      '--target-file-size-bytes',
      String(m.targetFileSizeBytes),
      ...(m.tables ? ['--tables', m.tables.join(',')] : []),
    ];
  }
  if (kind === 'features') {
    return [
      ...common,
      '--raw-uri',
      settings.rawUri,
      ...(options.maxFiles !== undefined ? ['--max-files', String(options.maxFiles)] : []),
      ...reprocessArguments(options.reprocess),
    ];
  }
  const ml = { ...settings.mlDefaults, ...options.mlParams };
  return [
    ...common,
    '--rolling-window',
    String(ml.rollingWindow),
    '--trajectory-head',
    String(ml.trajectoryHead),
    '--trajectory-tail',
    String(ml.trajectoryTail),
    ...(options.fullRefresh ? ['--full-refresh'] : []),
  ];
}

/** Job 1's reprocess selection: an empty prefix means the whole raw root, so it is left out like an absent one. */
function reprocessArguments(reprocess: Reprocess | undefined): string[] {
  if (!reprocess) return [];
  return [
    '--reprocess',
    ...(reprocess.prefix ? ['--reprocess-prefix', reprocess.prefix] : []),
    ...(reprocess.since !== undefined ? ['--reprocess-since', reprocess.since] : []),
  ];
}

export function buildJobSpec(
  kind: SparkJobKind,
  run: RunContext,
  settings: PipelineSettings,
  clientToken: string,
): JobSpec {
  return {
    name: `quantum-${kind}-${run.runId}`.slice(0, 200),
    entryPoint: ENTRY_SCRIPT[kind],
    entryPointArguments: jobArguments(kind, run, settings),
    pyFiles: [PY_FILES_ARCHIVE],
    sparkConf: { ...settings.sparkConf },
    resources: { ...settings.resources },
    extraSubmitArgs: [...settings.extraSubmitArgs],
    clientToken,
  };
}
