/**
 * New raw objects start the feature pipeline, on the embedded runner and the real data plane:
 * the demo loader writes to Garage, the local stand-in of S3's notifications puts "Object Created"
 * on the local bus, the template's rule calls the real debounce step, the synthesized debounce
 * state machine waits for its window, and its event's rule starts the real feature pipeline.
 * The window is a few seconds here (quietMinutes on AWS); nothing else is shortened but the
 * run slot's retry pause and the job polls. The stand-in of S3 publishes when polled: each burst's
 * events go out together once its upload is done, as a burst's events arrive within seconds of each other.
 *
 * Each run here is job 1 only: the test gives the arrival rule's target input `skipMlFeatures`
 * (jobOneOnly below). What is tested is which objects start which run and what each run reads,
 * which job 1 alone decides; job 2 after job 1 is the feature pipeline e2e's happy path.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DeleteObjectsCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { quietWindow } from '../../lambdas/feature-pipeline/steps/debounce';
import type { CfnTemplate } from '../../localstack/embedded/definition';
import type { ExecutionEvent, LocalExecution } from '../../localstack/embedded/local-host';
import { driverStdout, execute, isolatedPipeline } from './harness';

const MINUTES = 60_000;
/**
 * Far shorter than what job 1 of run 1 still has to do once it has planned its batch (read 200
 * files, commit 12 tables: 30 s and more), so that the second burst's run starts while run 1
 * still works; and longer than announcing a burst of 200 objects takes here (one listing, then
 * local calls), so that the burst stays in one window.
 */
const QUIET_SECONDS = 5;
const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The demo loader (spark-jobs/tools/demo_data.py), as `npm run demo:data` runs it, without blocking the runner. */
async function upload(prefix: string, count: number, start: number): Promise<void> {
  const python = process.env.QP_PYTHON;
  if (!python) throw new Error('QP_PYTHON is not set: run the tests through `npm test`');
  const script = join(__dirname, '..', '..', 'spark-jobs', 'tools', 'demo_data.py');
  await run(python, [script, '--count', String(count), '--start', String(start), '--prefix', prefix]);
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}`);
    await sleep(200);
  }
}

/** Just after a window of `seconds` begins, so that a burst shorter than a window stays in one. */
async function atWindowStart(seconds: number): Promise<number> {
  const length = seconds * 1000;
  await sleep(length - (Date.now() % length) + 300);
  return Date.now();
}

function collect(execution: LocalExecution): ExecutionEvent[] {
  const events: ExecutionEvent[] = [];
  void (async () => {
    for await (const event of execution.events) events.push(event);
  })();
  return events;
}

const named = (events: ExecutionEvent[], type: string, state: string) =>
  events.filter((e) => e.type === type && 'state' in e && e.state.name === state);

/** The input the deployed daily schedule starts the pipeline with (locally no schedule fires). */
function scheduleInput(template: CfnTemplate): unknown {
  const schedule = Object.values(template.Resources).find((r) => r.Type === 'AWS::Scheduler::Schedule');
  return JSON.parse(String((schedule?.Properties?.Target as { Input?: string } | undefined)?.Input));
}

/**
 * The template's "Raw Objects Settled" rule starts the pipeline with job 1 only (its deployed input
 * plus skipMlFeatures). The local bus reads the rules from this template at every event.
 */
function jobOneOnly(template: CfnTemplate): void {
  const targets = Object.values(template.Resources)
    .filter((r) => r.Type === 'AWS::Events::Rule')
    .flatMap((r) => (r.Properties?.Targets as Array<{ Input?: string }> | undefined) ?? [])
    .filter((t) => typeof t.Input === 'string' && JSON.parse(t.Input).trigger === 'objects');
  expect(targets.map((t) => JSON.parse(t.Input!))).toEqual([{ trigger: 'objects' }]);
  targets[0].Input = JSON.stringify({ trigger: 'objects', skipMlFeatures: true });
}

/** The submission id of the execution's (first) job 1, once submitted. */
function featureJobId(events: ExecutionEvent[]): string | undefined {
  const exited = named(events, 'StateExited', 'SubmitFeatureJob')[0];
  return exited && 'state' in exited ? (exited.state.output as any)?.job?.jobId : undefined;
}

async function removeAll(prefix: string): Promise<void> {
  const s3 = new S3Client({
    endpoint: process.env.QP_S3_ENDPOINT,
    region: process.env.QP_S3_REGION,
    forcePathStyle: true,
  });
  for (;;) {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: 'raw-results', Prefix: prefix }));
    const keys = (page.Contents ?? []).map((o) => ({ Key: o.Key as string }));
    if (keys.length === 0) return;
    await s3.send(new DeleteObjectsCommand({ Bucket: 'raw-results', Delete: { Objects: keys } }));
  }
}

describe('new raw objects start the feature pipeline, executed locally', () => {
  it(
    'a burst of 200 objects starts exactly one run; a burst during that run starts one more after it; objects whose events were dropped wait for the schedule',
    async () => {
      // Prepare: the test's objects under experiments/ (the rule's prefix), in a folder of their own
      const prefix = `experiments/e2e-objects-${randomBytes(4).toString('hex')}`;
      const { pipeline, id } = isolatedPipeline({
        settings: { rawUri: `s3a://raw-results/${prefix}` },
        objectQuietSeconds: QUIET_SECONDS,
        context: { runSlot: { retryIntervalSeconds: 60, backoffRate: 1, maxAttempts: 50 } },
        // Up to 50 x 3 s = 2.5 minutes of waiting for run 1 (it is past its plan when run 2 starts): ample.
        retryOverridesMs: { AcquireRunSlot: 3000 },
        pollMs: 1000,
      });
      jobOneOnly(pipeline.template);
      const arrivals = pipeline.objectArrivals;
      let dropping = false;
      const notifications = arrivals.notifications(`${prefix}/`, { drop: () => dropping });
      await notifications.prime();
      try {
        // Act 1: 200 objects in one burst (their events at the start of a window, so that they share one)
        await upload(prefix, 200, 0);
        const burstStart = await atWindowStart(QUIET_SECONDS);
        await notifications.poll();
        await pipeline.bus.settled();

        // Assess 1: 200 events, one debounce execution, and no run while the window is open
        const created = pipeline.bus.events.filter((e) => e['detail-type'] === 'Object Created');
        expect(created).toHaveLength(200);
        expect(pipeline.bus.failedInvocations).toEqual([]);
        expect(arrivals.executions.map((e) => e.name)).toHaveLength(1);
        expect(pipeline.triggered).toHaveLength(0);
        const run1 = await waitFor('the first run', () => pipeline.triggered[0], (QUIET_SECONDS + 15) * 1000);
        const events1 = collect(run1);
        expect(run1.startDate.getTime()).toBeGreaterThanOrEqual(Date.parse(quietWindow(burstStart, QUIET_SECONDS).end));

        // Act 2: a second burst while run 1 works, once its job 1 has planned its batch (the
        // files it reads are fixed: the plan is committed before any of them is read)
        const job1 = await waitFor('job 1 of run 1 to be submitted', () => featureJobId(events1), 5 * MINUTES);
        await waitFor(
          'job 1 of run 1 to plan its batch',
          () => (/ planned (reprocess )?batch \S+: \d+ objects/.test(driverStdout(job1)) ? true : undefined),
          10 * MINUTES,
        );
        await upload(prefix, 20, 200);
        await notifications.poll();
        await pipeline.bus.settled();
        const run2 = await waitFor('the second run', () => pipeline.triggered[1], (QUIET_SECONDS + 15) * 1000);
        const events2 = collect(run2);
        const run1RunningWhenRun2Started = pipeline.host
          .listRunning(pipeline.host.stateMachineArn)
          .some((e) => e.executionArn === run1.executionArn);
        const [output1, output2] = (await Promise.all([run1.result, run2.result])) as Array<Record<string, any>>;

        // Assess 2: run 2 started during run 1, waited for the run slot, and read only the second burst
        expect(run1RunningWhenRun2Started).toBe(true);
        expect(arrivals.executions).toHaveLength(2);
        expect(output1.run.options.trigger).toBe('objects');
        // (vqe_results has one row per record; job 2 was skipped, as the rule's input asked)
        expect(output1.run.options.skipMlFeatures).toBe(true);
        expect(output1.mlFeatures.outcome).toBeNull();
        expect(output1.features.outcome.newRows.vqe_results).toBe(200);
        expect(output2.features.outcome.newRows.vqe_results).toBe(20);
        expect(named(events2, 'StateRetried', 'AcquireRunSlot').length).toBeGreaterThan(0);
        const run1End = events1.find((e) => e.type === 'ExecutionSucceeded')?.timestamp ?? Number.NaN;
        const run2Submit = named(events2, 'StateEntered', 'SubmitFeatureJob')[0]?.timestamp ?? Number.NaN;
        expect(run2Submit).toBeGreaterThanOrEqual(run1End);

        // Act 3: five objects whose events are lost on the way, then a whole window of quiet
        dropping = true;
        await upload(prefix, 5, 220);
        await notifications.poll();
        dropping = false;
        await sleep((QUIET_SECONDS + 5) * 1000);
        await pipeline.bus.settled();

        // Assess 3: nothing started them (nor anything else: still one run per burst) ...
        expect(notifications.dropped).toHaveLength(5);
        expect(arrivals.executions).toHaveLength(2);
        expect(pipeline.triggered).toHaveLength(2);
        // ... until the daily schedule's start, whose job 1 reads every file not yet ingested
        const input = { ...(scheduleInput(pipeline.template) as object), skipMlFeatures: true };
        const scheduled = await execute(pipeline, input, `e2e-schedule-${id}`);
        expect(scheduled.error).toBeUndefined();
        expect(scheduled.output?.run.options.trigger).toBe('schedule');
        expect(scheduled.output?.features.outcome.newRows.vqe_results).toBe(5);
      } finally {
        await notifications.stop();
        // The R2 syncs an "ML Features Updated" started (none when job 2 is skipped), before the test's objects go.
        await Promise.allSettled((pipeline.r2Sync?.triggered ?? []).map((sync) => sync.result));
        await removeAll(`${prefix}/`);
      }
    },
    20 * MINUTES,
  );
});
