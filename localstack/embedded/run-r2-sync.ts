/**
 * `npm run sync:local -- [input JSON] [--name execution-name]`
 *
 * Executes the synthesized "r2 sync" state machine on this machine: the ML tables of the local
 * warehouse mirrored into the R2 stand-in bucket. Progress on stderr, then one line per table;
 * the execution output (or error) as JSON on stdout. Exit code 0 only when it succeeded.
 *
 * QP_R2_SYNC_SETTINGS (JSON, optional) changes the deployed SYNC_SETTINGS for this run, e.g.
 * `{"source": {...}, "destination": {...}}` with other prefixes (the mirror's integration test
 * syncs its own namespace into its own folder of the stand-in bucket).
 */
import { SyncSettings } from '../../lambdas/r2-sync/contract';
import { describeSync, exitWith, finish, parseArgs, runRecords, runToEnd, writeErr } from './cli';
import { createLocalPipeline, dataplaneFromEnv } from './local-pipeline';

const SETTINGS_ENV = 'QP_R2_SYNC_SETTINGS';

/** The settings changes of QP_R2_SYNC_SETTINGS, checked against the settings' shape (field and value named). */
function settingsOverride(text: string | undefined): Partial<SyncSettings> | undefined {
  if (!text) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new Error(`${SETTINGS_ENV} is not JSON: ${text}`, { cause });
  }
  const checked = SyncSettings.partial().safeParse(parsed);
  if (!checked.success) {
    const issue = checked.error.issues[0];
    throw new Error(`${SETTINGS_ENV}: ${issue.path.join('.')}: ${issue.message}`);
  }
  // Only the fields given: a default of the schema must not replace a deployed value.
  const given = new Set(Object.keys(parsed as object));
  return Object.fromEntries(Object.entries(checked.data).filter(([key]) => given.has(key))) as Partial<SyncSettings>;
}

async function main(): Promise<number> {
  const { input, name } = parseArgs(process.argv.slice(2), 'sync', '{"tables": ["ml_run_summary"], "dryRun": true}');
  const records = runRecords();
  const { r2Sync, bus } = createLocalPipeline({
    dataplane: dataplaneFromEnv(process.env),
    r2Settings: settingsOverride(process.env[SETTINGS_ENV]),
    eventLog: records.eventLog,
    lambdaLog: records.lambdaLog,
  });
  if (!r2Sync) throw new Error('the R2 sync is switched off (r2.enabled false in the CDK context)');
  const write = writeErr;
  const { destination, source } = r2Sync.settings;
  const mirror = `s3://${destination.bucket}/${destination.prefix}`;
  write(`r2 sync: execution ${name}, s3://${source.bucket}/${source.prefix} -> ${mirror} (${destination.endpoint})`);
  write(`input: ${JSON.stringify(input)}`);

  const { output, failure } = await runToEnd(r2Sync.host.start(input, name), write);
  describeSync(output, mirror).forEach(write);
  return finish(bus, records, output, failure, write);
}

exitWith(main);
