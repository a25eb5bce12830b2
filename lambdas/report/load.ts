/**
 * Gathers a page's view from S3: the run summaries of both jobs, job 2's report data and the last
 * runs' summaries (for the duration history); for a batch, its run states. The I/O is here; how
 * the pieces become a view is in the pure functions below it, which the tests call directly.
 */
import { type _Object, GetObjectCommand, paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import { runPool } from '../core/pool';
import { RunSummary, SUMMARY_JOB_NAME } from '../feature-pipeline/contract';
import type { RunStateStore } from '../vqe-batch/state-store';
import { readBatchProgress } from '../vqe-batch/steps/summary';
import {
  type BatchView,
  type HistoryPoint,
  type JobView,
  type PhysicsView,
  type PipelineRunView,
  REPORT_DATA_SUFFIX,
  ReportData,
} from './contract';

/** Summaries read per job for the duration history. */
export const HISTORY_RUNS = 30;

export class ReportDataError extends Error {
  override readonly name = 'ReportDataError';
}

export function splitUri(uri: string): { bucket: string; prefix: string } {
  const match = /^s3a?:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (!match) throw new ReportDataError(`summary location ${JSON.stringify(uri)} is not an s3:// or s3a:// URI`);
  const prefix = match[2].replace(/\/+$/, '');
  return { bucket: match[1], prefix: prefix ? `${prefix}/` : '' };
}

async function readJson(s3: S3Client, bucket: string, key: string): Promise<unknown | undefined> {
  try {
    const reply = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse((await reply.Body?.transformToString('utf-8')) ?? '');
  } catch (error) {
    if ((error as { name?: string }).name === 'NoSuchKey') return undefined;
    throw new ReportDataError(`reading s3://${bucket}/${key}: ${(error as Error).name}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

async function list(s3: S3Client, bucket: string, prefix: string): Promise<_Object[]> {
  const objects: _Object[] = [];
  for await (const page of paginateListObjectsV2({ client: s3 }, { Bucket: bucket, Prefix: prefix })) {
    objects.push(...(page.Contents ?? []));
  }
  return objects;
}

const newestFirst = (a: _Object, b: _Object) => (b.LastModified?.getTime() ?? 0) - (a.LastModified?.getTime() ?? 0);

/** batch id -> duration of the newest `limit` summaries of one job. */
async function recentDurations(s3: S3Client, bucket: string, folder: string, limit: number) {
  const keys = (await list(s3, bucket, folder))
    .filter((o) => o.Key?.endsWith('.json') && !o.Key.endsWith(REPORT_DATA_SUFFIX))
    .sort(newestFirst)
    .slice(0, limit)
    .map((o) => o.Key as string);
  const durations = new Map<string, number>();
  await runPool(keys, 8, async (key) => {
    const parsed = RunSummary.safeParse(await readJson(s3, bucket, key));
    if (parsed.success) durations.set(parsed.data.batch_id, parsed.data.duration_seconds);
  });
  return durations;
}

export interface PipelineRunInputs {
  readonly runId: string;
  readonly now: string;
  readonly features?: RunSummary;
  readonly mlFeatures?: RunSummary;
  readonly data?: ReportData;
  readonly durations: ReadonlyMap<string, number>;
  readonly failure?: { readonly error: string; readonly cause: string };
}

export async function loadPipelineRun(
  s3: S3Client,
  summaryUri: string,
  runId: string,
  options: { now?: Date; failure?: PipelineRunInputs['failure']; historyRuns?: number } = {},
): Promise<PipelineRunInputs> {
  const { bucket, prefix } = splitUri(summaryUri);
  const folder = (job: string) => `${prefix}${job}/`;
  const summary = async (job: string) => {
    const json = await readJson(s3, bucket, `${folder(job)}${runId}.json`);
    return json === undefined ? undefined : RunSummary.parse(json);
  };
  const [features, mlFeatures, raw, d1, d2] = await Promise.all([
    summary(SUMMARY_JOB_NAME.features),
    summary(SUMMARY_JOB_NAME['ml-features']),
    readJson(s3, bucket, `${folder(SUMMARY_JOB_NAME['ml-features'])}${runId}${REPORT_DATA_SUFFIX}`),
    recentDurations(s3, bucket, folder(SUMMARY_JOB_NAME.features), options.historyRuns ?? HISTORY_RUNS),
    recentDurations(s3, bucket, folder(SUMMARY_JOB_NAME['ml-features']), options.historyRuns ?? HISTORY_RUNS),
  ]);
  const data = raw === undefined ? undefined : ReportData.parse(raw);
  return {
    runId,
    now: (options.now ?? new Date()).toISOString(),
    features,
    mlFeatures,
    data,
    durations: new Map([...d1, ...d2]),
    failure: options.failure,
  };
}

function jobView(label: string, s: RunSummary | undefined, skipped: string): JobView {
  return s
    ? { label, status: s.status, durationSeconds: s.duration_seconds, batchId: s.batch_id, newRows: s.new_rows }
    : { label, status: skipped, durationSeconds: null, batchId: null, newRows: {} };
}

export function physicsOf(data: ReportData | undefined, source: string): PhysicsView | null {
  if (!data || data.experiments === 0) return null;
  return {
    experiments: data.experiments,
    convergence: data.convergence.groups,
    groupsTotal: data.convergence.groups_total,
    energyError: data.energy_error.groups,
    source,
  };
}

/** The pipeline run page's view from what was read (pure). */
export function pipelineRunView(inputs: PipelineRunInputs): PipelineRunView {
  const { features: f1, mlFeatures: f2, data } = inputs;
  const current = new Set([f1?.batch_id, f2?.batch_id].filter(Boolean));
  const jobOf = (name: string) => (/ml/i.test(name) ? 'job 2 (ML features)' : 'job 1 (features)');
  const history: HistoryPoint[] = (data?.history ?? []).map((h) => ({
    job: jobOf(h.processing_name),
    at: h.at,
    batchId: h.batch_id,
    totalRows: h.total_rows,
    durationSeconds: inputs.durations.get(h.batch_id) ?? null,
    current: current.has(h.batch_id),
  }));
  const files = f1?.files;
  const duplicates = f1?.details.duplicate_experiments;
  return {
    kind: 'pipeline-run',
    runId: inputs.runId,
    generatedAt: inputs.now,
    failure: inputs.failure,
    jobs: [
      jobView('job 1 (features)', f1, inputs.failure ? 'no summary' : 'not run'),
      jobView('job 2 (ML features)', f2, inputs.failure ? 'no summary' : 'skipped'),
    ],
    files: f1
      ? {
          listed: files?.listed ?? null,
          inBatch: files?.in_batch ?? 0,
          ingested: files?.ingested ?? 0,
          quarantined: f1.quarantined_total,
          quarantinedFiles: f1.quarantined.map((q) => ({ key: q.key, reason: q.reason })),
          duplicateExperiments: typeof duplicates === 'number' ? duplicates : null,
        }
      : null,
    history,
    physics: physicsOf(data, `job 2 of this run, batch ${data?.batch_id ?? ''}`),
  };
}

/**
 * The batch page's view. The physics comes from the first job-2 report data written after the
 * batch's last run ended: the feature pipeline run its "VQE Batch Finished" event started.
 */
export async function loadBatch(
  store: RunStateStore,
  s3: S3Client,
  summaryUri: string,
  batchId: string,
  now: Date = new Date(),
  failure?: { error: string; cause: string },
): Promise<BatchView> {
  const progress = await readBatchProgress(store, batchId, now.getTime());
  const record = await store.readBatch(batchId);
  const keys: string[] = [];
  for (const lane of Object.keys(record?.lanes ?? {}) as Parameters<RunStateStore['readPlan']>[1][])
    keys.push(...(await store.readPlan(batchId, lane)).map((r) => r.key));
  const states = [...(await store.readRuns(keys)).values()].filter(
    (s) => s?.batchId === batchId && s.startedAt && s.endedAt,
  );
  const runs = states
    .map((s) => ({
      key: s?.key ?? '',
      lane: s?.lane ?? '',
      status: s?.status ?? '',
      startedAt: s?.startedAt ?? '',
      seconds: (Date.parse(s?.endedAt ?? '') - Date.parse(s?.startedAt ?? '')) / 1000,
    }))
    .sort((a, b) => a.startedAt.localeCompare(b.startedAt));
  const lastEnd = Math.max(0, ...states.map((s) => Date.parse(s?.endedAt ?? '')));
  const { bucket, prefix } = splitUri(summaryUri);
  const candidates = (await list(s3, bucket, `${prefix}${SUMMARY_JOB_NAME['ml-features']}/`))
    .filter((o) => o.Key?.endsWith(REPORT_DATA_SUFFIX) && (o.LastModified?.getTime() ?? 0) >= lastEnd)
    .sort((a, b) => -newestFirst(a, b));
  let physics: PhysicsView | null = null;
  // No run ended yet: no pipeline run can have processed this batch.
  for (const o of states.length ? candidates.slice(0, 5) : []) {
    const parsed = ReportData.safeParse(await readJson(s3, bucket, o.Key as string));
    physics = parsed.success ? physicsOf(parsed.data, `job 2 of feature pipeline run ${parsed.data.run_id}`) : null;
    if (physics) break;
  }
  return {
    kind: 'batch',
    batchId,
    tier: progress.tier,
    startedAt: progress.startedAt,
    generatedAt: now.toISOString(),
    finished: progress.finished,
    lanes: progress.lanes.map((l) => ({
      lane: l.lane,
      planned: l.planned,
      done: l.done,
      failed: l.failed,
      timedOut: l.timed_out,
      inProgress: l.in_progress,
      pending: l.pending,
      records: l.records,
      meanRunSeconds: l.meanRunSeconds,
      etaSeconds: l.etaSeconds,
    })),
    runs: runs.map(({ key, lane, status, seconds }) => ({ key, lane, status, seconds })),
    physics,
    ...(failure ? { failure } : {}),
  };
}
