/**
 * `npm run batch:progress -- [batch id] [--watch seconds] [--bucket name [--prefix vqe-batch/] [--region r]]`
 *
 * Progress of a VQE batch while it runs (or after): done / failed / timed out / in progress /
 * pending per lane and an ETA, read from the run states in S3. Without a batch id, the latest
 * batch. Without --bucket, the local data plane's state (as the local profile deploys it); with
 * --bucket, the deployed stack's raw-results bucket on AWS, with the usual AWS credentials.
 * `--json` prints the progress object instead of the table.
 */
import { parseArgs } from 'node:util';
import { S3Client } from '@aws-sdk/client-s3';
import { describeProgress } from '../../lambdas/vqe-batch/progress';
import { RunStateStore } from '../../lambdas/vqe-batch/state-store';
import { readBatchProgress } from '../../lambdas/vqe-batch/steps/summary';
import { exitWith } from './cli';
import { createLocalPipeline, dataplaneFromEnv } from './local-pipeline';

function storeFrom(options: { bucket?: string; prefix: string; region?: string }): RunStateStore {
  if (options.bucket)
    return new RunStateStore(new S3Client({ region: options.region }), options.bucket, options.prefix);
  const local = createLocalPipeline({ dataplane: dataplaneFromEnv(process.env) }).vqeBatch;
  if (!local) throw new Error('the VQE batch is switched off (batch.enabled false in the CDK context)');
  return local.store;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    options: {
      bucket: { type: 'string' },
      prefix: { type: 'string', default: 'vqe-batch/' },
      region: { type: 'string' },
      watch: { type: 'string' },
      json: { type: 'boolean', default: false },
    },
    allowPositionals: true,
  });
  const watchSeconds = values.watch === undefined ? 0 : Number(values.watch);
  if (!Number.isFinite(watchSeconds) || watchSeconds < 0)
    throw new Error(`--watch: expected seconds, got ${JSON.stringify(values.watch)}`);
  const store = storeFrom({ bucket: values.bucket, prefix: values.prefix ?? '', region: values.region });
  const batchId = positionals[0] ?? (await store.batchIds()).at(-1);
  if (!batchId) throw new Error('no batch has been started yet (nothing under the batches/ prefix)');

  for (;;) {
    const progress = await readBatchProgress(store, batchId, Date.now());
    process.stdout.write(values.json ? `${JSON.stringify(progress)}\n` : `${describeProgress(progress).join('\n')}\n`);
    if (!watchSeconds || progress.finished) return 0;
    await new Promise((resolve) => setTimeout(resolve, watchSeconds * 1000));
    process.stdout.write('\n');
  }
}

exitWith(main);
