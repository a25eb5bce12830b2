/**
 * Gives one vitest run its own temporary folder and removes it when the run ends. CDK's App
 * writes a fresh `cdk.out*` folder under the system temp folder at every synth (the infra tests
 * synthesize a few hundred stacks, up to ~20 MB each), and nothing else would ever remove them:
 * left to accumulate they filled this machine's disk. Workers inherit TMPDIR from this process,
 * so `os.tmpdir()` in every test, and in every program a test starts, lands here.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const scratch = mkdtempSync(join(tmpdir(), 'qp-vitest-'));
  const previous = process.env.TMPDIR;
  process.env.TMPDIR = scratch;
  return () => {
    if (previous === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = previous;
    rmSync(scratch, { recursive: true, force: true });
  };
}
