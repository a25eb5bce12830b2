/**
 * `npm run pipeline:local -- [input JSON] [--name execution-name]`
 *
 * Executes the synthesized "feature processing" state machine on this machine: progress per state
 * on stderr while it runs, then a summary - including the R2 sync its "ML Features Updated" event
 * started - and the execution output (or error) as JSON on stdout. Exit code 0 only when the
 * execution (and the sync it started) succeeded.
 */

import { describeJobs, exitWith, finish, parseArgs, reportTriggeredSyncs, runRecords, runToEnd, writeErr } from './cli';
import { createLocalPipeline, dataplaneFromEnv } from './local-pipeline';
import { renderLocalReport } from './run-report';

async function main(): Promise<number> {
  const { input, name } = parseArgs(process.argv.slice(2), 'local', '{"maxFiles": 100}');
  const records = runRecords();
  const pipeline = createLocalPipeline({
    dataplane: dataplaneFromEnv(process.env),
    eventLog: records.eventLog,
    lambdaLog: records.lambdaLog,
  });
  const write = writeErr;
  write(`feature processing: execution ${name} of ${pipeline.host.stateMachineArn}`);
  write(`input: ${JSON.stringify(input)}`);

  const { output, failure: pipelineFailure } = await runToEnd(pipeline.host.start(input, name), write);
  describeJobs(output).forEach(write);
  // "ML Features Updated" started the R2 sync when job 2 changed the ML tables.
  const failure = pipelineFailure ?? (await reportTriggeredSyncs(pipeline, write));
  // The report step wrote the page to Garage; the same page as a local file, to open directly.
  write(`run report: ${await renderLocalReport(pipeline, name).catch((e: Error) => `not written (${e.message})`)}`);
  return finish(pipeline.bus, records, output, failure, write);
}

exitWith(main);
