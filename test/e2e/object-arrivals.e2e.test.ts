/**
 * New raw objects start the feature pipeline, on the embedded runner and the real data plane:
 * the demo loader writes to Garage, the local stand-in of S3's notifications puts "Object Created"
 * on the local bus, the template's rule calls the real debounce step, the synthesized debounce
 * state machine waits for its window, and its event's rule starts the real feature pipeline.
 * The window is a few seconds here (quietMinutes on AWS); nothing else is shortened but the
 * run slot's retry pause. The stand-in of S3 publishes when polled: each burst's events go out
 * together once its upload is done, as a burst's events arrive within seconds of each other.
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
import { execute, isolatedPipeline } from './harness';

const MINUTES = 60_000;
/** Shorter than job 2 of run 1 takes, so that the second burst's run starts while run 1 still works. */
const QUIET_SECONDS = 10;
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
        // Up to 50 x 6 s = 5 minutes of waiting for run 1, ample on a loaded machine.
        retryOverridesMs: { AcquireRunSlot: 6000 },
      });
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

        // Act 2: a second burst while run 1 works, once its job 1 has read its files (job 2 is under way)
        await waitFor(
          'job 1 of run 1',
          () =>
            events1.some((e) => e.type === 'StateExited' && 'state' in e && e.state.name === 'FeatureJob')
              ? true
              : undefined,
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
        expect(output1.mlFeatures.outcome.newRows.ml_run_summary).toBe(200);
        expect(output2.mlFeatures.outcome.newRows.ml_run_summary).toBe(20);
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
        const scheduled = await execute(pipeline, scheduleInput(pipeline.template), `e2e-schedule-${id}`);
        expect(scheduled.error).toBeUndefined();
        expect(scheduled.output?.run.options.trigger).toBe('schedule');
        expect(scheduled.output?.mlFeatures.outcome.newRows.ml_run_summary).toBe(5);
      } finally {
        await notifications.stop();
        // The R2 syncs the runs' "ML Features Updated" started, before the test's objects go.
        await Promise.allSettled((pipeline.r2Sync?.triggered ?? []).map((sync) => sync.result));
        await removeAll(`${prefix}/`);
      }
    },
    20 * MINUTES,
  );
});
