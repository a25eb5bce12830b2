/**
 * The local batch's run slot: a lock file under the local state folder, so a second local batch
 * (in this process or another one) waits like a second batch on AWS, and a lock left by a dead
 * process or an ended execution does not block forever. Real files, real processes.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import type { BatchSettings } from '../../lambdas/vqe-batch/contract';
import type { RunStateStore } from '../../lambdas/vqe-batch/state-store';
import { createPlanBatch } from '../../lambdas/vqe-batch/steps/plan';
import { batchLockFile, LocalBatchRunSlot } from '../../localstack/embedded/batch-run-slot';

const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:qp-vqe-batch';
const FIRST = {
  executionArn: `${MACHINE.replace('stateMachine', 'execution')}:first`,
  startTime: '2026-12-02T10:00:00Z',
};
const SECOND = {
  executionArn: `${MACHINE.replace('stateMachine', 'execution')}:second`,
  startTime: '2026-12-02T10:05:00Z',
};

let dir: string;
let lockFile: string;
let children: ChildProcess[] = [];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'qp-batch-slot-'));
  lockFile = batchLockFile(dir, 'raw-results', 'vqe-batch/');
});
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children = [];
  rmSync(dir, { recursive: true, force: true });
});

/** A slot of this process whose running executions are `running`. */
const slotWith = (running: Set<string>) => new LocalBatchRunSlot(lockFile, (arn) => running.has(arn));

/** Another process that stays alive until killed. */
function otherProcess(): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  children.push(child);
  return child;
}

describe('the local batch run slot', () => {
  it('lets one batch hold it, refuses a second with PipelineBusyError naming the holder, and frees it when the first ends', async () => {
    // Prepare
    const running = new Set([FIRST.executionArn, SECOND.executionArn]);
    const slot = slotWith(running);
    await slot.take(FIRST);

    // Act
    const second = slot.take(SECOND);

    // Assess
    await expect(second).rejects.toMatchObject({
      name: 'PipelineBusyError',
      message: expect.stringContaining(`local batch ${FIRST.executionArn} (process ${process.pid}`),
    });
    await expect(slot.take(FIRST)).resolves.toBeUndefined(); // a retry of the holder's own plan step
    slot.release(SECOND.executionArn); // not the holder: nothing happens
    await expect(slot.take(SECOND)).rejects.toMatchObject({ name: 'PipelineBusyError' });
    running.delete(FIRST.executionArn);
    slot.release(FIRST.executionArn);
    expect(existsSync(lockFile)).toBe(false);
    await expect(slot.take(SECOND)).resolves.toBeUndefined();
    expect(JSON.parse(readFileSync(lockFile, 'utf8'))).toEqual({ ...SECOND, pid: process.pid });
  });

  it('takes over the lock of an execution of this process that ended without releasing it', async () => {
    // Prepare
    const running = new Set([FIRST.executionArn]);
    await slotWith(running).take(FIRST);
    running.clear();

    // Act + Assess
    await expect(slotWith(new Set()).take(SECOND)).resolves.toBeUndefined();
    expect(JSON.parse(readFileSync(lockFile, 'utf8')).executionArn).toBe(SECOND.executionArn);
  });

  it('asks the holder own host whether it still runs when two local deployments share this process', async () => {
    // Prepare
    const hostA = new Set([FIRST.executionArn]);
    const slotA = slotWith(hostA);
    const slotB = slotWith(new Set([SECOND.executionArn]));
    await slotA.take(FIRST);

    // Act
    const whileRunning = slotB.take(SECOND);

    // Assess
    await expect(whileRunning).rejects.toMatchObject({ name: 'PipelineBusyError' });
    hostA.clear(); // the execution ended, its release was missed
    await expect(slotB.take(SECOND)).resolves.toBeUndefined();
  });

  it('waits while another live process holds it, and takes it over once that process is gone', async () => {
    // Prepare
    const other = otherProcess();
    mkdirSync(join(lockFile, '..'), { recursive: true });
    writeFileSync(lockFile, JSON.stringify({ ...FIRST, pid: other.pid }));
    const slot = slotWith(new Set());

    // Act
    const whileAlive = slot.take(SECOND);

    // Assess
    await expect(whileAlive).rejects.toMatchObject({
      name: 'PipelineBusyError',
      message: expect.stringContaining(`(process ${other.pid}, started ${FIRST.startTime})`),
    });
    const exited = new Promise((resolve) => other.once('exit', resolve));
    other.kill('SIGKILL');
    await exited;
    await expect(slot.take(SECOND)).resolves.toBeUndefined();
  });

  it('takes over a lock cut short (unreadable)', async () => {
    // Prepare
    mkdirSync(join(lockFile, '..'), { recursive: true });
    writeFileSync(lockFile, '{"executionArn": "arn:aws:states:');

    // Act + Assess
    await expect(slotWith(new Set()).take(FIRST)).resolves.toBeUndefined();
  });

  it('keeps batches of different state prefixes (separate local deployments, the tests) apart', () => {
    // Act
    const files = [
      batchLockFile(dir, 'raw-results', 'vqe-batch/'),
      batchLockFile(dir, 'raw-results', 'e2e-batch-1/cpu/state/'),
    ];

    // Assess
    expect(new Set(files).size).toBe(2);
    expect(files[0]).toBe(join(dir, 'vqe-batch-slots', 'raw-results-vqe-batch_.lock'));
  });

  it('is taken by the plan step before anything is planned; a dry run takes none', async () => {
    // Prepare
    const writes: string[] = [];
    const store = {
      doneKeys: async () => new Set<string>(),
      writePlan: async (batchId: string) => void writes.push(`plan ${batchId}`),
      writeBatch: async () => void writes.push('batch'),
    } as unknown as RunStateStore;
    const settings = {
      stateBucket: 'raw-results',
      statePrefix: 'vqe-batch/',
      launcher: { kind: 'local' },
      moleculesFiles: { gpu1: 'a.json', gpu2: 'b.json', cpu: 'c.json' },
      extraArgs: [],
      delivery: {
        mode: 'host-upload',
        bucket: 'raw-results',
        prefix: 'experiments/experiment.vqe/',
        folderFlag: '--output-dir',
        s3Flag: '--output',
      },
      runTimeoutSeconds: 600,
      pollIntervalSeconds: 5,
      chunkSize: 10,
    } satisfies BatchSettings;
    const running = new Set([FIRST.executionArn, SECOND.executionArn]);
    const runSlot = slotWith(running);
    const plan = createPlanBatch({ settings, store, runSlot, log: new Logger('test', {}, 'ERROR', () => undefined) });
    const event = (self: typeof FIRST, input: unknown) => ({
      input,
      executionName: self.executionArn.split(':').pop(),
      startTime: self.startTime,
      executionArn: self.executionArn,
      stateMachineArn: MACHINE,
    });
    await plan(event(FIRST, { lanes: ['cpu'], limit: 1 }));
    writes.length = 0;

    // Act
    const second = plan(event(SECOND, { lanes: ['cpu'], limit: 1 }));
    const dryRun = await plan(event(SECOND, { lanes: ['cpu'], limit: 1, dryRun: true }));

    // Assess
    await expect(second).rejects.toMatchObject({ name: 'PipelineBusyError' });
    expect(writes).toEqual([]);
    expect(dryRun.dryRun).toBe(true);
  });
});
