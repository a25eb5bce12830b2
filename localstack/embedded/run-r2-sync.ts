/**
 * `npm run sync:local -- [input JSON] [--name execution-name]`
 *
 * Executes the synthesized "r2 sync" state machine on this machine: the ML tables of the local
 * warehouse mirrored into the R2 stand-in bucket. Progress on stderr, then one line per table;
 * the execution output (or error) as JSON on stdout. Exit code 0 only when it succeeded.
 */
import { describeSync, parseArgs, runRecords } from './cli';
import { errorCause, errorName } from './local-host';
import { createLocalPipeline, dataplaneFromEnv } from './local-pipeline';
import { followProgress } from './progress';

async function main(): Promise<number> {
  const { input, name } = parseArgs(process.argv.slice(2), 'sync', '{"tables": ["ml_run_summary"], "dryRun": true}');
  const { eventLog, lambdaLogFile, lambdaLog } = runRecords();
  const { r2Sync, bus } = createLocalPipeline({ dataplane: dataplaneFromEnv(process.env), eventLog, lambdaLog });
  if (!r2Sync) throw new Error('the R2 sync is switched off (r2.enabled false in the CDK context)');
  const write = (line: string) => process.stderr.write(`${line}\n`);
  const { destination, source } = r2Sync.settings;
  const mirror = `s3://${destination.bucket}/${destination.prefix}`;
  write(`r2 sync: execution ${name}, s3://${source.bucket}/${source.prefix} -> ${mirror} (${destination.endpoint})`);
  write(`input: ${JSON.stringify(input)}`);

  const execution = r2Sync.host.start(input, name);
  const progress = followProgress(execution.events, write);
  let output: unknown;
  let failure: Error | undefined;
  try {
    output = await execution.result;
  } catch (error) {
    failure = error as Error;
  }
  await progress;
  write('');
  describeSync(output, mirror).forEach(write);
  for (const delivery of bus.deliveries) write(`notification (${delivery.rule}): ${delivery.message}`);
  write(`events and notifications: ${eventLog}; Lambda logs: ${lambdaLogFile}`);
  process.stdout.write(`${JSON.stringify(failure ? { error: errorName(failure), cause: errorCause(failure) } : output)}\n`);
  return failure ? 1 : 0;
}

main().then((code) => process.exit(code), (error: Error) => {
  process.stderr.write(`${error.name}: ${error.message}\n`);
  process.exit(2);
});
