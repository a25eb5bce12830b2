/**
 * `npm run report -- <run id | batch id> [--out folder]`
 *
 * Renders the run report of a feature pipeline run, or of a VQE batch, from the local data plane
 * (the same code the report step runs on Lambda), writes it to s3://artifacts/reports/<id>.html in
 * Garage and to a local file, and prints the file's path. A batch id is recognised by its batch
 * record (vqe-batch/batches/<id>/batch.json); anything else is taken for a pipeline run id.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { s3ClientFromEnv } from '../../lambdas/feature-pipeline/settings';
import { REPORT_ENV, reportKey } from '../../lambdas/report/contract';
import { loadBatch } from '../../lambdas/report/load';
import { render } from '../../lambdas/report/render';
import { writePipelineReport } from '../../lambdas/report/steps/write-report';
import { exitWith, writeErr } from './cli';
import { functionEnvironment, logicalIdOf } from './definition';
import { createLocalPipeline, dataplaneFromEnv, type LocalPipeline } from './local-pipeline';

/** The local folder of the pages (beside the run records). */
export function localReportDir(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.QP_STATE_DIR ?? join(env.HOME ?? '.', '.local', 'state', 'quantum-pipeline');
  return join(state, 'reports');
}

/** The reports bucket as the template gives it to the report function (a plain name locally). */
export function reportBucket(pipeline: LocalPipeline): string {
  const env = functionEnvironment(pipeline.template, logicalIdOf(pipeline.stack, pipeline.stack.runReport.function));
  return String(env[REPORT_ENV.bucket]);
}

/**
 * Renders the page of `id` from the local data plane into Garage and `outDir`; the file's path.
 * Used by this command and at the end of the local pipeline and batch commands.
 */
export async function renderLocalReport(
  pipeline: LocalPipeline,
  id: string,
  outDir = localReportDir(),
): Promise<string> {
  const env = {
    S3_ENDPOINT: process.env.QP_S3_ENDPOINT,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: process.env.QP_S3_REGION,
  };
  const s3 = s3ClientFromEnv(env);
  const bucket = reportBucket(pipeline);
  const store = pipeline.vqeBatch?.store;
  let html: string;
  if (store && (await store.readBatch(id))) {
    html = render(await loadBatch(store, s3, pipeline.settings.summaryUri, id));
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: reportKey(id), Body: html, ContentType: 'text/html; charset=utf-8' }),
    );
  } else {
    ({ html } = await writePipelineReport({ s3, bucket, summaryUri: pipeline.settings.summaryUri }, id));
  }
  mkdirSync(outDir, { recursive: true });
  const file = resolve(outDir, `${id.replace(/[^A-Za-z0-9._:-]/g, '_')}.html`);
  writeFileSync(file, html);
  return file;
}

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({ options: { out: { type: 'string' } }, allowPositionals: true });
  const id = positionals[0];
  if (!id) throw new Error('usage: npm run report -- <run id | batch id> [--out folder]');
  const pipeline = createLocalPipeline({ dataplane: dataplaneFromEnv(process.env) });
  const file = await renderLocalReport(pipeline, id, values.out);
  writeErr(`report of ${id}: s3://${reportBucket(pipeline)}/${reportKey(id)}`);
  process.stdout.write(`${file}\n`);
  return 0;
}

if (require.main === module) exitWith(main);
