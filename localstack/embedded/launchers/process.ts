/**
 * The local launcher without Docker: each run is a detached process group on this machine (the
 * mini-VQE by default). A small shell wrapper writes the run's stderr, stdout and finally its exit
 * code into the run's folder, so the run's status lives on disk, not in this Node process: a
 * later invocation, or another process, polls it from the handle alone.
 *
 * A run's records (LaunchRequest.records): direct, the program gets the s3:// prefix; host-upload,
 * it gets `<run folder>/records` and, once it exited 0, the first status() that sees the exit
 * uploads that folder (records.ts), as the run document does on the GPU host.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { RunLaunchError } from '../../../lambdas/core/errors';
import { recordsArguments } from '../../../lambdas/vqe-batch/delivery';
import {
  containerNameFor,
  type Launcher,
  type LaunchRequest,
  type RunHandle,
  type RunStatus,
  tail,
} from '../../../lambdas/vqe-batch/launcher';
import { afterUpload, type PendingUpload, type RecordsUploader } from './records';

export interface ProcessLauncherSettings {
  /** The program and its leading arguments, e.g. [python, '-m', 'mini_vqe']. */
  readonly command: readonly string[];
  readonly cwd?: string;
  /** Added to this process's environment. */
  readonly env?: Readonly<Record<string, string>>;
  /** One folder per run is made in here. */
  readonly runsDir: string;
  /** Uploads a host-upload run's folder once it exited 0. @default none: a host-upload run is refused */
  readonly uploader?: RecordsUploader;
}

/** The run folder's file naming where its records go (host-upload). */
const UPLOAD_FILE = 'upload.json';

// $1 is the run folder; the rest is the command. The exit code goes through a rename, so a
// reader never sees a half-written file.
const WRAPPER =
  'dir=$1; shift; "$@" >"$dir/stdout.log" 2>"$dir/stderr.log"; code=$?; ' +
  'echo "$code" >"$dir/exit-code.tmp"; mv "$dir/exit-code.tmp" "$dir/exit-code"';

export class ProcessLauncher implements Launcher {
  readonly kind = 'process' as const;

  constructor(private readonly settings: ProcessLauncherSettings) {
    if (settings.command.length === 0) throw new RangeError('ProcessLauncher: command must name a program, got []');
  }

  async launch(request: LaunchRequest): Promise<RunHandle> {
    await this.stopEarlierRuns(request.runKey);
    const runDir = join(this.settings.runsDir, `${containerNameFor(request.runKey)}-${Date.now()}`);
    mkdirSync(runDir, { recursive: true });
    const { records } = request;
    const folder = join(runDir, 'records');
    if (records?.mode === 'host-upload') {
      if (!this.settings.uploader) {
        throw new RunLaunchError(
          `run ${request.runKey}: delivery host-upload needs an uploader (ProcessLauncher.uploader)`,
        );
      }
      mkdirSync(folder);
      const pending: PendingUpload = { folder, bucket: records.bucket, prefix: records.prefix };
      writeFileSync(join(runDir, UPLOAD_FILE), JSON.stringify(pending));
    }
    const args = [...request.args, ...(records ? recordsArguments(records, folder) : [])];
    writeFileSync(join(runDir, 'command.json'), JSON.stringify([...this.settings.command, ...args]));
    const child = spawn('/bin/sh', ['-c', WRAPPER, 'qp-run', runDir, ...this.settings.command, ...args], {
      cwd: this.settings.cwd,
      env: { ...process.env, ...this.settings.env },
      detached: true, // its own process group: a timeout stops the shell and the program together
      stdio: 'ignore',
    });
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => (child.pid ? resolve(child.pid) : reject(new Error('spawned without a pid'))));
      child.once('error', reject);
    }).catch((cause: unknown) => {
      throw new RunLaunchError(
        `run ${request.runKey}: could not start /bin/sh in ${this.settings.cwd ?? process.cwd()}`,
        { cause },
      );
    });
    child.unref();
    writeFileSync(join(runDir, 'pid'), String(pid));
    return { kind: 'process', pid, runDir };
  }

  /** Stops what earlier launches of this run key left running (their folders share its name). */
  private async stopEarlierRuns(runKey: string): Promise<void> {
    const prefix = `${containerNameFor(runKey)}-`;
    if (!existsSync(this.settings.runsDir)) return;
    for (const entry of readdirSync(this.settings.runsDir)) {
      const runDir = join(this.settings.runsDir, entry);
      const pidFile = join(runDir, 'pid');
      if (!entry.startsWith(prefix) || !/^\d+$/.test(entry.slice(prefix.length)) || !existsSync(pidFile)) continue;
      const pid = Number.parseInt(readFileSync(pidFile, 'utf8'), 10);
      if (pid > 0) await this.stop({ kind: 'process', pid, runDir });
    }
  }

  async status(handle: RunHandle): Promise<RunStatus> {
    const { pid, runDir } = processHandle(handle);
    const exitFile = join(runDir, 'exit-code');
    if (existsSync(exitFile)) {
      const code = Number.parseInt(readFileSync(exitFile, 'utf8').trim(), 10);
      const exited = {
        state: 'exited',
        exitCode: Number.isNaN(code) ? 1 : code,
        stderrTail: this.stderrTail(runDir),
      } as const;
      const uploadFile = join(runDir, UPLOAD_FILE);
      const pending = existsSync(uploadFile)
        ? (JSON.parse(readFileSync(uploadFile, 'utf8')) as PendingUpload)
        : undefined;
      return afterUpload(exited, pending, this.settings.uploader);
    }
    if (isRunProcess(pid, runDir)) return { state: 'running' };
    // Killed before the wrapper could record a code (a stop, or the machine went down).
    const stopped = existsSync(join(runDir, 'stopped'));
    return {
      state: 'exited',
      exitCode: stopped ? 143 : 1,
      stderrTail: this.stderrTail(runDir),
      detail: stopped ? 'stopped' : `process ${pid} ended without an exit code`,
    };
  }

  async stop(handle: RunHandle): Promise<void> {
    const { pid, runDir } = processHandle(handle);
    // Ended, or the pid now belongs to another program (the run died with the machine and the
    // number was reused): there is nothing of this run to signal.
    if (existsSync(join(runDir, 'exit-code')) || !isRunProcess(pid, runDir)) return;
    writeFileSync(join(runDir, 'stopped'), new Date().toISOString());
    signalGroup(pid, 'SIGTERM');
    for (let waited = 0; waited < 5000 && isAlive(pid); waited += 100) await new Promise((r) => setTimeout(r, 100));
    signalGroup(pid, 'SIGKILL');
  }

  private stderrTail(runDir: string): string {
    const file = join(runDir, 'stderr.log');
    return existsSync(file) ? tail(readFileSync(file, 'utf8')) : '';
  }
}

function processHandle(handle: RunHandle): { pid: number; runDir: string } {
  if (handle.kind !== 'process') throw new TypeError(`ProcessLauncher: a ${handle.kind} handle is not one of its runs`);
  return handle;
}

/** Alive and not a zombie (a zombie still answers signal 0; a killed orphan stays one until reaped). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\)\s+Z\s/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true; // no /proc: trust the signal
  }
}

/** Alive, and the wrapper of this run: its command line names the run's folder (so a reused pid is not taken for the run). */
export function isRunProcess(pid: number, runDir: string): boolean {
  if (!isAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes(runDir);
  } catch {
    return true; // no /proc: trust the signal
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // already gone
  }
}
