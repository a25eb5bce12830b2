/**
 * `npm run pipeline:local -- [input JSON] [--name execution-name]`
 *
 * Executes the synthesized "feature processing" state machine on this machine: progress per state
 * on stderr while it runs, then a summary; the execution output (or error) as JSON on stdout.
 * Exit code 0 only when the execution succeeded.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { JobOutcome } from '../../lambdas/shared/contracts';
import { createLocalPipeline, dataplaneFromEnv } from './local-pipeline';
import { errorCause, errorName } from './local-host';
import { followProgress } from './progress';

function parseArgs(argv: string[]): { input: unknown; name: string } {
  let input: unknown = {};
  let name = `local-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}`;
  for (let i = 0; i < argv.length; i += 1) {
    if (argv[i] === '--name') {
      name = argv[(i += 1)] ?? '';
    } else {
      try {
        input = JSON.parse(argv[i]);
      } catch {
        throw new Error(`argument ${JSON.stringify(argv[i])}: expected the execution input as JSON, e.g. '{"maxFiles": 100}'`);
      }
    }
  }
  return { input, name };
}

function describeOutcome(label: string, outcome: JobOutcome | null | undefined): string {
  if (!outcome) return `${label}: skipped`;
  const rows = Object.entries(outcome.newRows).filter(([, n]) => n > 0).map(([table, n]) => `${table} +${n}`);
  return `${label}: ${outcome.status} in ${outcome.durationSeconds.toFixed(0)}s, batch ${outcome.batchId}`
    + `${rows.length ? `\n    ${rows.join(', ')}` : ''}`
    + `${outcome.quarantinedTotal ? `\n    quarantined ${outcome.quarantinedTotal} file(s): `
      + outcome.quarantined.slice(0, 5).map((q) => `${q.key} (${q.reason})`).join('; ') : ''}`;
}

async function main(): Promise<number> {
  const { input, name } = parseArgs(process.argv.slice(2));
  const dataplane = dataplaneFromEnv(process.env);
  const stateDir = process.env.QP_STATE_DIR ?? join(process.env.HOME ?? '.', '.local', 'state', 'quantum-pipeline');
  mkdirSync(stateDir, { recursive: true });
  const eventLog = join(stateDir, 'local-events.jsonl');
  const lambdaLogFile = join(stateDir, 'logs', 'local-lambdas.jsonl');
  mkdirSync(join(stateDir, 'logs'), { recursive: true });
  const pipeline = createLocalPipeline({ dataplane, eventLog, lambdaLog: (line) => appendFileSync(lambdaLogFile, `${line}\n`) });
  const write = (line: string) => process.stderr.write(`${line}\n`);
  write(`feature processing: execution ${name} of ${pipeline.host.stateMachineArn}`);
  write(`input: ${JSON.stringify(input)}`);

  const execution = pipeline.host.start(input, name);
  const progress = followProgress(execution.events, write);
  let output: unknown;
  let failure: Error | undefined;
  try {
    output = await execution.result;
  } catch (error) {
    failure = error as Error;
  }
  await progress;

  write('');
  if (output) {
    const state = output as { features?: { outcome?: JobOutcome }; mlFeatures?: { outcome?: JobOutcome | null } };
    write(describeOutcome('job 1 (features)', state.features?.outcome));
    write(describeOutcome('job 2 (ML features)', state.mlFeatures?.outcome));
  }
  for (const delivery of pipeline.bus.deliveries) write(`notification (${delivery.rule}): ${delivery.message}`);
  write(`events and notifications: ${eventLog}; Lambda logs: ${lambdaLogFile}`);
  process.stdout.write(`${JSON.stringify(failure ? { error: errorName(failure), cause: errorCause(failure) } : output)}\n`);
  return failure ? 1 : 0;
}

main().then((code) => process.exit(code), (error: Error) => {
  process.stderr.write(`${error.name}: ${error.message}\n`);
  process.exit(2);
});
