/** The local process launcher, for real: real processes, real signals, status read back from disk. */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type Launcher, type RunHandle, type RunStatus, STDERR_TAIL_BYTES } from '../../lambdas/vqe-batch/launcher';
import { isAlive, ProcessLauncher } from '../../localstack/embedded/launchers/process';

const runsDir = mkdtempSync(join(tmpdir(), 'qp-process-launcher-'));
afterAll(() => rmSync(runsDir, { recursive: true, force: true }));

const shell = (script: string) => new ProcessLauncher({ command: ['/bin/sh', '-c', script, 'run'], runsDir });

async function waitForExit(launcher: Launcher, handle: RunHandle, timeoutMs = 10_000): Promise<RunStatus> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const status = await launcher.status(handle);
    if (status.state === 'exited' || Date.now() > until) return status;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('ProcessLauncher', () => {
  it('runs the command with the run arguments and reports exit code 0', async () => {
    // Prepare
    const launcher = shell('echo "args: $*"; echo "working" >&2');
    // Act
    const handle = await launcher.launch({
      runKey: 'cpu/sto3g/H2/COBYLA/EfficientSU2/hf/seed-1',
      args: ['--seed', '1', 'two words'],
    });
    const status = await waitForExit(launcher, handle);
    // Assess
    expect(handle.kind).toBe('process');
    expect(status).toEqual({ state: 'exited', exitCode: 0, stderrTail: 'working\n' });
    const { runDir } = handle as Extract<RunHandle, { kind: 'process' }>;
    expect(readFileSync(join(runDir, 'stdout.log'), 'utf8')).toBe('args: --seed 1 two words\n');
  });

  it('reports a failing run with its exit code and the tail of its stderr', async () => {
    // Prepare: more stderr than a state keeps
    const launcher = shell(
      `i=0; while [ $i -lt 600 ]; do echo "line $i of the traceback" >&2; i=$((i+1)); done; exit 3`,
    );
    // Act
    const handle = await launcher.launch({ runKey: 'cpu/sto3g/H2/COBYLA/EfficientSU2/hf/seed-2', args: [] });
    const status = await waitForExit(launcher, handle);
    // Assess
    expect(status.state).toBe('exited');
    if (status.state !== 'exited') return;
    expect(status.exitCode).toBe(3);
    expect(Buffer.byteLength(status.stderrTail)).toBeLessThanOrEqual(STDERR_TAIL_BYTES);
    expect(status.stderrTail.endsWith('line 599 of the traceback\n')).toBe(true);
    expect(status.stderrTail).not.toContain('line 0 of');
  });

  it('reports running until the process ends, and a new launcher instance polls the same handle', async () => {
    // Prepare
    const handle = await shell('sleep 0.5; exit 0').launch({ runKey: 'cpu/a', args: [] });
    // Act
    const early = await shell('unused').status(handle);
    const late = await waitForExit(shell('unused'), handle);
    // Assess
    expect(early).toEqual({ state: 'running' });
    expect(late).toMatchObject({ state: 'exited', exitCode: 0 });
  });

  it('stops a run: the whole process group ends and the run is reported as stopped', async () => {
    // Prepare: the program starts a grandchild, which must die too
    const pidFile = join(runsDir, 'grandchild.pid');
    const withEnv = new ProcessLauncher({
      command: ['/bin/sh', '-c', 'sleep 60 & echo $! > "$QP_TEST_CHILD_PID_FILE"; wait', 'run'],
      runsDir,
      env: { QP_TEST_CHILD_PID_FILE: pidFile },
    });
    const handle = await withEnv.launch({ runKey: 'cpu/b', args: [] });
    for (let i = 0; i < 100 && !existsSync(pidFile); i += 1) await new Promise((r) => setTimeout(r, 20));
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    // Act
    await withEnv.stop(handle);
    const status = await waitForExit(withEnv, handle);
    // Assess
    expect(status).toMatchObject({ state: 'exited', exitCode: 143, detail: 'stopped' });
    // SIGKILL is delivered asynchronously: the grandchild may need a moment to be gone.
    for (let i = 0; i < 100 && isAlive(grandchild); i += 1) await new Promise((r) => setTimeout(r, 20));
    expect(isAlive(grandchild)).toBe(false);
  });

  it('stopping a run that already ended changes nothing', async () => {
    // Prepare
    const launcher = shell('exit 5');
    const handle = await launcher.launch({ runKey: 'cpu/c', args: [] });
    await waitForExit(launcher, handle);
    // Act
    await launcher.stop(handle);
    // Assess
    expect(await launcher.status(handle)).toMatchObject({ state: 'exited', exitCode: 5 });
  });

  it('replaces a run of the same key that an earlier launch left running, and leaves other keys alone', async () => {
    // Prepare: a run of key d that would go on for a minute, and one of key e
    const long = shell('sleep 60');
    const stale = await long.launch({ runKey: 'cpu/d', args: [] });
    const other = await long.launch({ runKey: 'cpu/e', args: [] });

    // Act: key d is launched again
    const fresh = await shell('exit 0').launch({ runKey: 'cpu/d', args: [] });

    // Assess
    expect(await long.status(stale)).toMatchObject({ state: 'exited', exitCode: 143, detail: 'stopped' });
    expect(await waitForExit(long, fresh)).toMatchObject({ state: 'exited', exitCode: 0 });
    expect(await long.status(other)).toEqual({ state: 'running' });
    await long.stop(other);
  });

  it('takes a pid now held by another program for an ended run and never signals that program', async () => {
    // Prepare: a handle whose run died without an exit code and whose pid went to an unrelated process group
    const stranger = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    const runDir = mkdtempSync(join(runsDir, 'lost-'));
    const handle: RunHandle = { kind: 'process', pid: stranger.pid!, runDir };
    const launcher = shell('unused');

    // Act
    const status = await launcher.status(handle);
    await launcher.stop(handle);

    // Assess
    expect(status).toMatchObject({
      state: 'exited',
      exitCode: 1,
      detail: `process ${stranger.pid} ended without an exit code`,
    });
    expect(isAlive(stranger.pid!)).toBe(true);
    expect(existsSync(join(runDir, 'stopped'))).toBe(false);
    stranger.kill('SIGKILL');
  });

  it('refuses an empty command and a handle of another launcher', async () => {
    expect(() => new ProcessLauncher({ command: [], runsDir })).toThrow(/command must name a program, got \[\]/);
    await expect(shell('true').status({ kind: 'docker', containerId: 'abc' })).rejects.toThrow(
      /a docker handle is not one of its runs/,
    );
  });
});
