/**
 * Helpers of the end-to-end tests: each test gets its own namespace and S3 prefixes on the real
 * local data plane, uploads synthetic records, and executes the synthesized state machine.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { SyncSettings } from '../../lambdas/r2-sync/contract';
import type { ExecutionEvent, LocalStateMachineHost } from '../../localstack/embedded/local-host';
import {
  createLocalPipeline,
  dataplaneFromEnv,
  type LocalPipeline,
  type LocalPipelineOptions,
} from '../../localstack/embedded/local-pipeline';

const REPO = join(__dirname, '..', '..');

/** Job 1's nine feature tables (SPEC section 3), as the end-to-end and fault tests count them. */
export const BASE_TABLES = [
  'molecules',
  'ansatz_info',
  'performance_metrics',
  'vqe_results',
  'initial_parameters',
  'optimal_parameters',
  'vqe_iterations',
  'iteration_parameters',
  'hamiltonian_terms',
];

/** Job 2's two ML tables. */
export const ML_TABLES = ['ml_iteration_features', 'ml_run_summary'];

export interface Isolated {
  readonly id: string;
  readonly rawPrefix: string;
  readonly pipeline: LocalPipeline;
}

/** A pipeline whose jobs use a namespace and prefixes of their own. */
export function isolatedPipeline(options: Omit<LocalPipelineOptions, 'dataplane'> = {}): Isolated {
  const id = randomBytes(4).toString('hex');
  const rawPrefix = `e2e-${id}/experiments`;
  const pipeline = createLocalPipeline({
    pollMs: 2000,
    ...options,
    dataplane: dataplaneFromEnv(process.env),
    settings: {
      namespace: `e2e_${id}`,
      rawUri: `s3a://raw-results/${rawPrefix}`,
      summaryUri: `s3a://features/e2e-${id}/runs`,
      ...options.settings,
    },
    // The R2 sync that "ML Features Updated" starts mirrors this test's tables to its own prefix.
    r2Settings: {
      source: syncSource(id),
      destination: { ...syncDestination(), prefix: `e2e-${id}/` },
      ...options.r2Settings,
    },
  });
  return { id, rawPrefix, pipeline };
}

function syncSource(id: string): SyncSettings['source'] {
  return {
    bucket: 'features',
    prefix: `warehouse/e2e_${id}/`,
    endpoint: process.env.QP_S3_ENDPOINT,
    region: process.env.QP_S3_REGION ?? '',
    forcePathStyle: true,
  };
}

function syncDestination(): SyncSettings['destination'] {
  return {
    bucket: process.env.QP_R2_BUCKET ?? 'qp-data',
    prefix: '',
    endpoint: process.env.QP_R2_ENDPOINT,
    region: process.env.QP_S3_REGION ?? '',
    forcePathStyle: true,
  };
}

/** Uploads synthetic VQE records (spark-jobs/tools/demo_data.py) under the raw prefix. */
export function uploadRecords(rawPrefix: string, count: number, start = 0): void {
  const python = process.env.QP_PYTHON;
  if (!python) throw new Error('QP_PYTHON is not set: run the tests through `npm test`');
  execFileSync(
    python,
    [
      join(REPO, 'spark-jobs', 'tools', 'demo_data.py'),
      '--count',
      String(count),
      '--start',
      String(start),
      '--prefix',
      rawPrefix,
    ],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
}

export interface Finished {
  readonly output?: Record<string, any>;
  readonly error?: { name: string; message: string };
  readonly events: ExecutionEvent[];
}

/** Runs one execution to its end and keeps every event of it. */
export async function execute(
  target: { readonly host: LocalStateMachineHost },
  input: unknown,
  name: string,
): Promise<Finished> {
  const execution = target.host.start(input, name);
  const events: ExecutionEvent[] = [];
  const collected = (async () => {
    for await (const event of execution.events) events.push(event);
  })();
  let output: Record<string, any> | undefined;
  let error: { name: string; message: string } | undefined;
  try {
    output = (await execution.result) as Record<string, any>;
  } catch (failure) {
    const cause = (failure as { cause?: Error }).cause;
    error = { name: cause?.name ?? (failure as Error).name, message: cause?.message ?? (failure as Error).message };
  }
  await collected;
  return { output, error, events };
}

export function entered(finished: Finished, state: string): ExecutionEvent[] {
  return finished.events.filter((e) => e.type === 'StateEntered' && 'state' in e && e.state.name === state);
}

export function exitedOutput(finished: Finished, state: string): any[] {
  return finished.events
    .filter((e) => e.type === 'StateExited' && 'state' in e && e.state.name === state)
    .map((e) => ('state' in e ? e.state.output : undefined));
}

/** The driver state of a standalone submission, straight from the master's REST API. */
export async function driverState(submissionId: string): Promise<string> {
  const response = await fetch(`${process.env.QP_SPARK_REST_URL}/v1/submissions/status/${submissionId}`);
  return ((await response.json()) as { driverState: string }).driverState;
}

/** A standalone driver's stdout so far (the job's log lines land there on the cluster); '' before it starts. */
export function driverStdout(submissionId: string): string {
  const workDir = process.env.QP_SPARK_WORK_DIR;
  if (!workDir) throw new Error('QP_SPARK_WORK_DIR is not set: start the data plane and load its dataplane.env');
  const file = join(workDir, submissionId, 'stdout');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}
