/**
 * The VQE batch's run slot on this machine. On AWS the plan step asks Step Functions which batch
 * executions run; local batches may run in separate processes (two `npm run batch:local`), each
 * with its own in-process host, so none could see the other. A lock file under the local state
 * folder stands in: the batch that creates it holds the slot until its execution ends; another
 * batch gets PipelineBusyError and waits through the plan step's Retry, as on AWS.
 *
 * A lock whose process is gone (a batch killed with its terminal), or whose execution has ended in
 * this very process, is stale and taken over.
 */
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PipelineBusyError } from '../../lambdas/core/errors';
import type { BatchRunSlot } from '../../lambdas/vqe-batch/steps/plan';

interface LockHolder {
  readonly executionArn: string;
  readonly startTime: string;
  readonly pid: number;
}

/**
 * The lock holders of this process, with how to tell whether each still runs: several local
 * deployments (hosts) may share one process, and only the holder's own host knows its execution.
 */
const heldHere = new Map<string, () => boolean>();

/** Whether a process with this id exists (signal 0 checks without signalling). */
function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The lock file of one deployed batch (its state bucket and prefix): test batches with their own prefixes do not meet. */
export function batchLockFile(stateDir: string, stateBucket: string, statePrefix: string): string {
  const scope = `${stateBucket}-${statePrefix}`.replace(/[^A-Za-z0-9_.-]+/g, '_');
  return join(stateDir, 'vqe-batch-slots', `${scope}.lock`);
}

export class LocalBatchRunSlot implements BatchRunSlot {
  /**
   * @param lockFile where the holder is written (batchLockFile)
   * @param runsHere whether an execution of this process still runs (the host's listRunning)
   */
  constructor(
    readonly lockFile: string,
    private readonly runsHere: (executionArn: string) => boolean,
  ) {}

  async take(self: { readonly executionArn: string; readonly startTime: string }): Promise<void> {
    mkdirSync(join(this.lockFile, '..'), { recursive: true });
    const mine: LockHolder = { ...self, pid: process.pid };
    // Twice at most: a stale lock is removed once, then the file is created or someone else won.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      if (this.create(mine)) {
        heldHere.set(self.executionArn, () => this.runsHere(self.executionArn));
        return;
      }
      const holder = this.holder();
      if (holder === undefined) continue; // released between the two calls
      // A retry of this execution's own plan step finds its own lock.
      if (holder.pid === process.pid && holder.executionArn === self.executionArn) return;
      if (this.isAlive(holder)) {
        throw new PipelineBusyError(
          `local batch ${holder.executionArn} (process ${holder.pid}, started ${holder.startTime}) holds the run slot ` +
            `(${this.lockFile}); waiting for it`,
        );
      }
      this.remove();
    }
    throw new PipelineBusyError(`another local batch took the run slot (${this.lockFile}) at the same moment; waiting`);
  }

  /** Frees the slot if `executionArn` of this process holds it (called when the execution ends). */
  release(executionArn: string): void {
    const holder = this.holder();
    if (holder?.pid === process.pid && holder.executionArn === executionArn) this.remove();
    heldHere.delete(executionArn);
  }

  /**
   * Creates the lock with its whole content at once: written to a file of its own, then hard-linked
   * to the lock's name, which fails if the lock exists. So no reader ever sees a half-written lock.
   */
  private create(holder: LockHolder): boolean {
    const draft = `${this.lockFile}.${process.pid}.${Date.now()}`;
    writeFileSync(draft, JSON.stringify(holder));
    try {
      linkSync(draft, this.lockFile);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      return false;
    } finally {
      unlinkSync(draft);
    }
  }

  private isAlive(holder: LockHolder): boolean {
    if (holder.pid === process.pid) return heldHere.get(holder.executionArn)?.() ?? false;
    return holder.pid > 0 && processExists(holder.pid);
  }

  private holder(): LockHolder | undefined {
    let text: string;
    try {
      text = readFileSync(this.lockFile, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const holder = JSON.parse(text) as Partial<LockHolder>;
      if (typeof holder.pid === 'number' && typeof holder.executionArn === 'string') return holder as LockHolder;
    } catch {
      // a lock cut short (its process died mid-write): stale
    }
    return { executionArn: 'unknown', startTime: 'unknown', pid: -1 };
  }

  private remove(): void {
    try {
      unlinkSync(this.lockFile);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    }
  }
}
