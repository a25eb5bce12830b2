/**
 * `npm run pipeline:local -- [input JSON] [--name execution-name]`
 *
 * Executes the synthesized "feature processing" state machine on this machine: progress per state
 * on stderr while it runs, then a summary - including the R2 sync its "ML Features Updated" event
 * started - and the execution output (or error) as JSON on stdout. Exit code 0 only when the
 * execution (and the sync it started) succeeded.
 */
import type { JobOutcome } from '../../lambdas/shared/contracts';
import { createLocalPipeline, dataplaneFromEnv } from './local-pipeline';
import { errorCause, errorName } from './local-host';
import { describeSync, exitWith, finish, parseArgs, runRecords, runToEnd, writeErr } from './cli';

function describeOutcome(label: string, outcome: JobOutcome | null | undefined): string {
  if (!outcome) return `${label}: skipped`;
  const rows = Object.entries(outcome.newRows).filter(([, n]) => n > 0).map(([table, n]) => `${table} +${n}`);
  return `${label}: ${outcome.status} in ${outcome.durationSeconds.toFixed(0)}s, batch ${outcome.batchId}`
    + `${rows.length ? `\n    ${rows.join(', ')}` : ''}`
    + `${outcome.quarantinedTotal ? `\n    quarantined ${outcome.quarantinedTotal} file(s): `
      + outcome.quarantined.slice(0, 5).map((q) => `${q.key} (${q.reason})`).join('; ') : ''}`;
}

async function main(): Promise<number> {
  const { input, name } = parseArgs(process.argv.slice(2), 'local', '{"maxFiles": 100}');
  const records = runRecords();
  const pipeline = createLocalPipeline({ dataplane: dataplaneFromEnv(process.env), eventLog: records.eventLog, lambdaLog: records.lambdaLog });
  const write = writeErr;
  write(`feature processing: execution ${name} of ${pipeline.host.stateMachineArn}`);
  write(`input: ${JSON.stringify(input)}`);

  const { output, failure: pipelineFailure } = await runToEnd(pipeline.host.start(input, name), write);
  let failure = pipelineFailure;
  if (output) {
    const state = output as { features?: { outcome?: JobOutcome }; mlFeatures?: { outcome?: JobOutcome | null } };
    write(describeOutcome('job 1 (features)', state.features?.outcome));
    write(describeOutcome('job 2 (ML features)', state.mlFeatures?.outcome));
  }
  // "ML Features Updated" started the R2 sync when job 2 changed the ML tables.
  for (const sync of pipeline.r2Sync?.triggered ?? []) {
    const { destination } = pipeline.r2Sync!.settings;
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
  return finish(pipeline.bus, records, output, failure, write);
}

exitWith(main);
