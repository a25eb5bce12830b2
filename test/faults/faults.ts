/**
 * Helpers of the fault-injection suite: stop, kill and start one component of the local data
 * plane, find and kill a running Spark driver, read exact row counts from the Iceberg catalog,
 * and record every injected fault for the summary table printed at the end of the run.
 */
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { LocalStateMachineHost } from '../../localstack/embedded/local-host';

const REPO = join(__dirname, '..', '..');
const DATAPLANE = join(REPO, 'localstack', 'dataplane', 'dataplane.sh');

export type Component = 'postgres' | 'garage' | 'spark-master' | 'spark-worker';

/** `dataplane.sh stop-component`: a clean stop, or a crash with signal 'KILL'. */
export function stopComponent(name: Component, signal?: 'KILL'): void {
  execFileSync('bash', [DATAPLANE, 'stop-component', name, ...(signal ? [signal] : [])], { stdio: 'inherit' });
}

/** `dataplane.sh start-component`: returns once the component is healthy again. */
export function startComponent(name: Component): void {
  execFileSync('bash', [DATAPLANE, 'start-component', name], { stdio: 'inherit' });
}

/** True when `dataplane.sh status` says every component is healthy. */
export function dataplaneHealthy(): boolean {
  try {
    execFileSync('bash', [DATAPLANE, 'status'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `probe` until it returns a value (not undefined), or throws naming `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`fault injection: timed out waiting for ${what}`);
    await sleep(everyMs);
  }
}

// --- Spark drivers ------------------------------------------------------------------------------

function workDir(): string {
  const dir = process.env.QP_SPARK_WORK_DIR;
  if (!dir) throw new Error('QP_SPARK_WORK_DIR is not set: run through `npm run test:faults`');
  return dir;
}

/** Driver ids (folders of the worker's work dir), oldest first. */
export function driverIds(): string[] {
  return readdirSync(workDir())
    .filter((name) => name.startsWith('driver-'))
    .sort();
}

/** The driver's Python log (on the cluster the job's log lines land in the driver's stdout). */
export function driverLog(driverId: string): string {
  const file = join(workDir(), driverId, 'stdout');
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** Tables the driver has logged as committed ("table X: N rows, snapshot ..."), in order. */
export function committedTables(driverId: string): string[] {
  return [...driverLog(driverId).matchAll(/ table (\w+): \d+ rows, snapshot /g)].map((m) => m[1]);
}

/** The pid of the driver's JVM (the worker starts it with the driver's folder as its cwd). */
export function driverPid(driverId: string): number | undefined {
  const expected = join(workDir(), driverId);
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (!cmdline.includes('DriverWrapper')) continue;
      if (readlinkSync(`/proc/${entry}/cwd`) === expected) return Number(entry);
    } catch {
      // the process ended while we looked
    }
  }
  return undefined;
}

/** The pids of every descendant of `pid` (children first level, then theirs). */
export function descendants(pid: number): number[] {
  const found: number[] = [];
  const queue = [pid];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    let children = '';
    try {
      children = execFileSync('pgrep', ['-P', String(parent)], { encoding: 'utf8' });
    } catch {
      children = ''; // pgrep exits 1 when there is none
    }
    for (const child of children.split(/\s+/).filter(Boolean).map(Number)) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

export function killHard(pids: number[]): void {
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

/** The worker daemon's pid, from the data plane's pid file ($QP_STATE_DIR/run; the work dir is $QP_STATE_DIR/spark/work). */
export function workerPid(): number | undefined {
  const file = join(process.env.QP_STATE_DIR ?? join(workDir(), '..', '..'), 'run', 'spark-worker.pid');
  return existsSync(file) ? Number(readFileSync(file, 'utf8').trim()) : undefined;
}

// --- Live executions ----------------------------------------------------------------------------

export interface Live {
  readonly events: Array<{ type: string; timestamp?: number; state?: { name: string; output?: any } }>;
  readonly done: Promise<{ output?: Record<string, any>; error?: { name: string; message: string } }>;
  readonly abort: () => void;
}

/** Starts an execution and exposes its events while it runs (the tests time faults on them). */
export function startLive(target: { readonly host: LocalStateMachineHost }, input: unknown, name: string): Live {
  const execution = target.host.start(input, name);
  const events: Live['events'] = [];
  const collected = (async () => {
    for await (const event of execution.events) events.push(event as any);
  })();
  const done = (async () => {
    try {
      const output = (await execution.result) as Record<string, any>;
      await collected;
      return { output };
    } catch (failure) {
      await collected;
      const cause = (failure as { cause?: Error }).cause;
      return {
        error: { name: cause?.name ?? (failure as Error).name, message: cause?.message ?? (failure as Error).message },
      };
    }
  })();
  return { events, done, abort: execution.abort };
}

/** Kills a standalone driver through the master's REST API (a no-op once it has ended). */
export async function killDriver(driverId: string): Promise<void> {
  await fetch(`${process.env.QP_SPARK_REST_URL}/v1/submissions/kill/${driverId}`, { method: 'POST' }).catch(
    () => undefined,
  );
}

export function stateCount(live: Pick<Live, 'events'>, type: string, state: string): number {
  return live.events.filter((e) => e.type === type && e.state?.name === state).length;
}

/** The job ids (standalone driver ids) SubmitFeatureJob returned so far, in order. */
export function submittedJobs(live: Pick<Live, 'events'>, state = 'SubmitFeatureJob'): string[] {
  return live.events
    .filter((e) => e.type === 'StateExited' && e.state?.name === state)
    .map((e) => e.state?.output?.job?.jobId as string)
    .filter(Boolean);
}

// --- Exact row counts from the catalog ----------------------------------------------------------

function catalog(sql: string): string[][] {
  const uri = process.env.QP_CATALOG_URI ?? '';
  const match = /^jdbc:postgresql:\/\/([^:/]+):(\d+)\/(\w+)/.exec(uri);
  if (!match) throw new Error(`QP_CATALOG_URI is not a PostgreSQL JDBC URI: ${uri}`);
  const out = execFileSync(
    'psql',
    [
      '-h',
      match[1],
      '-p',
      match[2],
      '-U',
      process.env.QP_CATALOG_USER ?? 'qp',
      '-d',
      match[3],
      '-tA',
      '-F',
      '\t',
      '-c',
      sql,
    ],
    { encoding: 'utf8', env: { ...process.env, PGPASSWORD: process.env.QP_CATALOG_PASSWORD ?? '' } },
  );
  return out
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t'));
}

const s3 = () =>
  new S3Client({
    endpoint: process.env.QP_S3_ENDPOINT,
    region: process.env.QP_S3_REGION,
    forcePathStyle: true,
  });

/**
 * Rows per table of a namespace, exactly: each table's current snapshot's `total-records`, read
 * from the metadata file the catalog points at (Iceberg keeps it exact for appends and
 * overwrites; the jobs never delete rows). A table without a snapshot has 0 rows.
 */
export async function tableCounts(namespace: string): Promise<Record<string, number>> {
  if (!/^\w+$/.test(namespace)) throw new Error(`bad namespace ${namespace}`);
  const rows = catalog(
    `SELECT table_name, metadata_location FROM iceberg_tables WHERE table_namespace = '${namespace}' ORDER BY table_name`,
  );
  const client = s3();
  const counts: Record<string, number> = {};
  for (const [table, location] of rows) {
    const [, bucket, key] = /^s3a?:\/\/([^/]+)\/(.+)$/.exec(location) ?? [];
    const body = await (
      await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
    ).Body!.transformToString();
    const metadata = JSON.parse(body) as {
      'current-snapshot-id'?: number | null;
      snapshots?: Array<{ 'snapshot-id': number; summary: Record<string, string> }>;
    };
    const current = metadata.snapshots?.find((s) => s['snapshot-id'] === metadata['current-snapshot-id']);
    counts[table] = current ? Number(current.summary['total-records']) : 0;
  }
  client.destroy();
  return counts;
}

/**
 * The rows `count` synthetic records (demo_data.py, indexes 0..count-1) imply in every table after
 * one complete run of job 1 and job 2: the same arithmetic as the Spark jobs' integration tests;
 * processing_metadata holds one row per successful job run (job 1's and job 2's).
 */
export function expectedCounts(count: number): Record<string, number> {
  const code = `
import json, sys
sys.path.insert(0, ${JSON.stringify(join(REPO, 'spark-jobs', 'tools'))})
from synthetic_records import make_record
records = [make_record(i) for i in range(${count})]
its = [it for r in records for it in r["vqe_result"]["iteration_list"]]
n = len(records)
print(json.dumps({
  "molecules": n, "ansatz_info": n, "performance_metrics": n, "vqe_results": n,
  "initial_parameters": sum(len(r["vqe_result"]["initial_data"]["initial_parameters"]) for r in records),
  "optimal_parameters": sum(len(r["vqe_result"]["optimal_parameters"]) for r in records),
  "vqe_iterations": len(its),
  "iteration_parameters": sum(len(it["parameters"]) for it in its),
  "hamiltonian_terms": sum(len(r["vqe_result"]["initial_data"]["hamiltonian"]) for r in records),
  "ml_iteration_features": len(its), "ml_run_summary": n,
  "ingested_files": n, "processing_metadata": 2,
}))`;
  const python = process.env.QP_PYTHON;
  if (!python) throw new Error('QP_PYTHON is not set: run through `npm run test:faults`');
  return JSON.parse(execFileSync(python, ['-c', code], { encoding: 'utf8' }));
}

/** Only the tables `expected` names, so the comparison shows every difference at once. */
export function pick(counts: Record<string, number>, expected: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(expected).map((table) => [table, counts[table] ?? -1]));
}

// --- The summary table --------------------------------------------------------------------------

export interface FaultRecord {
  fault: string;
  injectedAt: string;
  recoveredBy: string;
  rowsExact: string;
  alert: string;
  result: 'pass' | 'FAIL';
  seconds: number;
}

export const faultLog: FaultRecord[] = [];

/**
 * Prints this file's table and appends its records to $QP_FAULTS_REPORT (JSON lines), from which
 * test/faults/run.sh prints one table for the whole run (vitest runs each file in its own module context).
 */
export function reportFaults(records: FaultRecord[] = faultLog): void {
  printFaultTable(records);
  const file = process.env.QP_FAULTS_REPORT;
  if (file) for (const record of records) appendFileSync(file, `${JSON.stringify(record)}\n`);
}

export function printFaultTable(records: FaultRecord[] = faultLog): string {
  const header = ['fault', 'injected at', 'recovered by', 'rows exact', 'alert', 'result', 'duration'];
  const rows = records.map((r) => [
    r.fault,
    r.injectedAt,
    r.recoveredBy,
    r.rowsExact,
    r.alert,
    r.result,
    `${r.seconds} s`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
  const text = [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
  process.stdout.write(`\nfault injection summary\n${text}\n`);
  return text;
}

/** A row of the fault table, failed and not injected until the case says otherwise. */
export function newFaultRecord(fault: string): FaultRecord {
  const record: FaultRecord = {
    fault,
    injectedAt: 'not injected',
    recoveredBy: '-',
    rowsExact: '-',
    alert: '-',
    result: 'FAIL',
    seconds: 0,
  };
  faultLog.push(record);
  return record;
}

/** Runs one case with its row in the table: 'pass' only when `body` returns; the first line of a failure is kept. */
export async function faultCase(fault: string, body: (record: FaultRecord) => Promise<void>): Promise<void> {
  const started = Date.now();
  const record = newFaultRecord(fault);
  try {
    await body(record);
    record.result = 'pass';
  } catch (failure) {
    record.recoveredBy = `${record.recoveredBy} - ${String((failure as Error).message)
      .split('\n')[0]
      .slice(0, 80)}`;
    throw failure;
  } finally {
    record.seconds = Math.round((Date.now() - started) / 1000);
  }
}
