/** What the local run commands share: arguments, where their records go, and the R2 sync summary. */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JobOutcome, ReprocessOutcome } from '../../lambdas/feature-pipeline/contract';
import type { TableProgress } from '../../lambdas/r2-sync/contract';
import type { LocalEventBridge } from './local-events';
import { errorCause, errorName, type LocalExecution } from './local-host';
import type { LocalPipeline } from './local-pipeline';
import { followProgress } from './progress';

export type Write = (line: string) => void;
export const writeErr: Write = (line) => process.stderr.write(`${line}\n`);

/** Follows an execution's progress to its end; the output, or the error it failed with. */
export async function runToEnd(
  execution: LocalExecution,
  write: Write,
): Promise<{ output?: unknown; failure?: Error }> {
  const progress = followProgress(execution.events, write, '', execution.retryPlans);
  let output: unknown;
  let failure: Error | undefined;
  try {
    output = await execution.result;
  } catch (error) {
    failure = error as Error;
  }
  await progress;
  write('');
  return { output, failure };
}

/** The closing lines of a local run: notifications, where the records are, the output as JSON; the exit code. */
export function finish(
  bus: LocalEventBridge,
  records: RunRecords,
  output: unknown,
  failure: Error | undefined,
  write: Write,
): number {
  for (const delivery of bus.deliveries) write(`notification (${delivery.rule}): ${delivery.message}`);
  write(`events and notifications: ${records.eventLog}; Lambda logs: ${records.lambdaLogFile}`);
  process.stdout.write(
    `${JSON.stringify(failure ? { error: errorName(failure), cause: errorCause(failure) } : output)}\n`,
  );
  return failure ? 1 : 0;
}

/** For a command's main(): exit with its code, or 2 and the error on stderr. */
export function exitWith(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (error: Error) => {
      process.stderr.write(`${error.name}: ${error.message}\n`);
      process.exit(2);
    },
  );
}

export function parseArgs(argv: string[], prefix: string, example: string): { input: unknown; name: string } {
  let input: unknown = {};
  let name = `${prefix}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--name') {
      i += 1;
      name = argv[i] ?? '';
    } else {
      try {
        input = JSON.parse(argv[i]);
      } catch {
        throw new Error(`argument ${JSON.stringify(argv[i])}: expected the execution input as JSON, e.g. '${example}'`);
      }
    }
  }
  return { input, name };
}

export interface RunRecords {
  readonly eventLog: string;
  readonly lambdaLogFile: string;
  readonly lambdaLog: (line: string) => void;
}

/** Events and notifications, and the handlers' JSON logs, under the data plane's state folder. */
export function runRecords(): RunRecords {
  const stateDir = process.env.QP_STATE_DIR ?? join(process.env.HOME ?? '.', '.local', 'state', 'quantum-pipeline');
  mkdirSync(join(stateDir, 'logs'), { recursive: true });
  const lambdaLogFile = join(stateDir, 'logs', 'local-lambdas.jsonl');
  return {
    eventLog: join(stateDir, 'local-events.jsonl'),
    lambdaLogFile,
    lambdaLog: (line) => appendFileSync(lambdaLogFile, `${line}\n`),
  };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** One line per table of an R2 sync's output. */
export function describeSync(output: unknown, mirror: string): string[] {
  const state = output as { run?: { dryRun?: boolean }; tables?: TableProgress[] } | undefined;
  const verb = state?.run?.dryRun ? 'would copy' : 'copied';
  return (state?.tables ?? []).map(
    (t) =>
      `  ${t.table}: ${verb} ${t.copied.objects} object(s) (${mib(t.copied.bytes)}), ` +
      `${state?.run?.dryRun ? 'would delete' : 'deleted'} ${t.deleted.objects}, unchanged ${t.unchanged.objects}, ` +
      `${t.invocations} invocation(s) -> ${mirror}${t.table}/` +
      // What a reader opens (pyiceberg, DuckDB): the metadata file the mirror's pointer names.
      (t.metadata ? `\n    current metadata: ${t.metadata}` : ''),
  );
}

function describeOutcome(label: string, outcome: JobOutcome | null | undefined): string {
  if (!outcome) return `${label}: skipped`;
  const rows = Object.entries(outcome.newRows)
    .filter(([, n]) => n > 0)
    .map(([table, n]) => `${table} +${n}`);
  return (
    `${label}: ${outcome.status} in ${outcome.durationSeconds.toFixed(0)}s, batch ${outcome.batchId}` +
    `${rows.length ? `\n    ${rows.join(', ')}` : ''}` +
    `${outcome.reprocess ? `\n    reprocess ${describeReprocess(outcome.reprocess)}` : ''}` +
    `${
      outcome.quarantinedTotal
        ? `\n    quarantined ${outcome.quarantinedTotal} file(s): ` +
          outcome.quarantined
            .slice(0, 5)
            .map((q) => `${q.key} (${q.reason})`)
            .join('; ')
        : ''
    }`
  );
}

function describeReprocess(r: ReprocessOutcome): string {
  if (r.status === 'deferred') return `deferred: ${r.reason ?? 'an interrupted batch was finished first'}`;
  if (r.status === 'nothing_selected') return 'selected nothing';
  return `done: ${r.objects ?? 0} object(s), ${r.experiments ?? 0} experiment(s) replaced`;
}

/** The two job lines of a feature pipeline's output (nothing when it failed). */
export function describeJobs(output: unknown): string[] {
  if (!output) return [];
  const state = output as { features?: { outcome?: JobOutcome }; mlFeatures?: { outcome?: JobOutcome | null } };
  return [
    describeOutcome('job 1 (features)', state.features?.outcome),
    describeOutcome('job 2 (ML features)', state.mlFeatures?.outcome),
  ];
}

/** Waits for the R2 syncs the bus started and reports each; the first failure, if any. */
export async function reportTriggeredSyncs(pipeline: LocalPipeline, write: Write): Promise<Error | undefined> {
  let failure: Error | undefined;
  const r2Sync = pipeline.r2Sync;
  if (!r2Sync) return undefined;
  for (const sync of r2Sync.triggered) {
    const { destination } = r2Sync.settings;
    const mirror = `s3://${destination.bucket}/${destination.prefix}`;
    try {
      const synced = await sync.result;
      write(`R2 sync ${sync.name} (to the local stand-in ${mirror}):`);
      describeSync(synced, mirror).forEach(write);
    } catch (error) {
      write(`R2 sync ${sync.name} failed: ${errorName(error as Error)}: ${errorCause(error as Error)}`);
      failure ??= error as Error;
    }
  }
  return failure;
}
