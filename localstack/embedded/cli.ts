/** What the local run commands share: arguments, where their records go, and the R2 sync summary. */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { TableProgress } from '../../lambdas/shared/sync/contracts';

export function parseArgs(argv: string[], prefix: string, example: string): { input: unknown; name: string } {
  let input: unknown = {};
  let name = `${prefix}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--name') {
      name = argv[(i += 1)] ?? '';
    } else {
      try {
        input = JSON.parse(argv[i]);
      } catch {
        throw new Error(`argument ${JSON.stringify(argv[i])}: expected the execution input as JSON, e.g. '${example}'`);
      }
    }
  }
  return { input, name };
}

export interface RunRecords { readonly eventLog: string; readonly lambdaLogFile: string; readonly lambdaLog: (line: string) => void }

/** Events and notifications, and the handlers' JSON logs, under the data plane's state folder. */
export function runRecords(): RunRecords {
  const stateDir = process.env.QP_STATE_DIR ?? join(process.env.HOME ?? '.', '.local', 'state', 'quantum-pipeline');
  mkdirSync(join(stateDir, 'logs'), { recursive: true });
  const lambdaLogFile = join(stateDir, 'logs', 'local-lambdas.jsonl');
  return { eventLog: join(stateDir, 'local-events.jsonl'), lambdaLogFile, lambdaLog: (line) => appendFileSync(lambdaLogFile, `${line}\n`) };
}

const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MiB`;

/** One line per table of an R2 sync's output. */
export function describeSync(output: unknown, mirror: string): string[] {
  const state = output as { run?: { dryRun?: boolean }; tables?: TableProgress[] } | undefined;
  const verb = state?.run?.dryRun ? 'would copy' : 'copied';
  return (state?.tables ?? []).map((t) => `  ${t.table}: ${verb} ${t.copied.objects} object(s) (${mib(t.copied.bytes)}), `
    + `${state?.run?.dryRun ? 'would delete' : 'deleted'} ${t.deleted.objects}, unchanged ${t.unchanged.objects}, `
    + `${t.invocations} invocation(s) -> ${mirror}${t.table}/`);
}
