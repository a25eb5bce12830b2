/**
 * `npm run batch:local -- [input JSON] [--name execution-name]`
 *
 * Executes the synthesized "vqe batch generation" state machines on this machine with the local
 * launcher (mini-VQE), printing the batch's progress per lane while it runs. When the batch wrote
 * records, its "VQE Batch Finished" event starts the feature pipeline, which is followed to its
 * end too (and the R2 sync that pipeline starts). The batch output, or error, as JSON on stdout;
 * exit code 0 only when everything it started succeeded.
 */
import { describeProgress } from '../../lambdas/vqe-batch/progress';
import { compactTime } from '../../lambdas/vqe-batch/steps/plan';
import { type BatchSummary, readBatchProgress } from '../../lambdas/vqe-batch/steps/summary';
import { describeJobs, exitWith, finish, parseArgs, reportTriggeredSyncs, runRecords, runToEnd, writeErr } from './cli';
import { createLocalPipeline, dataplaneFromEnv } from './local-pipeline';
import { renderLocalReport } from './run-report';

const PROGRESS_EVERY_MS = 5000;

async function main(): Promise<number> {
  const { input, name } = parseArgs(process.argv.slice(2), 'batch', '{"lanes": ["cpu"], "limit": 4}');
  const records = runRecords();
  const pipeline = createLocalPipeline({
    dataplane: dataplaneFromEnv(process.env),
    eventLog: records.eventLog,
    lambdaLog: records.lambdaLog,
  });
  const batch = pipeline.vqeBatch;
  if (!batch) throw new Error('the VQE batch is switched off (batch.enabled false in the CDK context)');
  const write = writeErr;
  const { stateBucket, statePrefix } = batch.settings;
  write(
    `vqe batch generation: execution ${name}, launcher ${batch.launcher.kind}, run states in s3://${stateBucket}/${statePrefix}`,
  );
  write(`input: ${JSON.stringify(input)}`);

  const execution = batch.host.start(input, name);
  const batchId = `${compactTime(execution.startDate.toISOString())}-${name}`.slice(0, 120);
  let last = '';
  const ticker = setInterval(() => {
    readBatchProgress(batch.store, batchId, Date.now()).then(
      (progress) => {
        const lines = describeProgress(progress).slice(1).join('\n');
        if (lines !== last) for (const line of lines.split('\n')) write(`  ${line}`);
        last = lines;
      },
      () => undefined,
    ); // not planned yet, or a dry run
  }, PROGRESS_EVERY_MS);
  const { output, failure: batchFailure } = await runToEnd(execution, write).finally(() => clearInterval(ticker));
  let failure = batchFailure;
  const progress = (output as { progress?: BatchSummary } | undefined)?.progress;
  if (progress) describeProgress(progress).forEach(write);

  // "VQE Batch Finished" (with records) started the feature pipeline, which may start the R2 sync.
  for (const run of pipeline.triggered) {
    write('');
    write(`feature processing: execution ${run.name}, started by the finished batch`);
    const features = await runToEnd(run, write);
    describeJobs(features.output).forEach(write);
    failure ??= features.failure ?? (await reportTriggeredSyncs(pipeline, write));
  }
  // The batch's page and each run's. The batch machine wrote its page when the batch ended, before
  // the pipeline run it started; rendered again now, it has that run's physics too.
  for (const id of [...(progress ? [batchId] : []), ...pipeline.triggered.map((run) => run.name)]) {
    write(
      `run report of ${id}: ${await renderLocalReport(pipeline, id).catch((e: Error) => `not written (${e.message})`)}`,
    );
  }
  return finish(pipeline.bus, records, output, failure, write);
}

exitWith(main);
