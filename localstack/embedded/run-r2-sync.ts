/**
 * `npm run sync:local -- [input JSON] [--name execution-name]`
 *
 * Executes the synthesized "r2 sync" state machine on this machine: the ML tables of the local
 * warehouse mirrored into the R2 stand-in bucket. Progress on stderr, then one line per table;
 * the execution output (or error) as JSON on stdout. Exit code 0 only when it succeeded.
 */
import { describeSync, exitWith, finish, parseArgs, runRecords, runToEnd, writeErr } from './cli';
import { createLocalPipeline, dataplaneFromEnv } from './local-pipeline';

async function main(): Promise<number> {
  const { input, name } = parseArgs(process.argv.slice(2), 'sync', '{"tables": ["ml_run_summary"], "dryRun": true}');
  const records = runRecords();
  const { r2Sync, bus } = createLocalPipeline({
    dataplane: dataplaneFromEnv(process.env),
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
