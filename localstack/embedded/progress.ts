/**
 * Progress of a local execution, one line per meaningful step: states entered and left (with
 * their duration), retries, caught errors and the job state whenever a poll sees it change. Poll
 * loops would otherwise print a Wait and a status line every few seconds.
 */
import type { ExecutionEvent, ExecutionEvents } from './local-host';

export interface StateTiming {
  readonly name: string;
  readonly entered: number;
  readonly seconds: number;
}

export interface ProgressRecord {
  /** Every state left, in order (poll states included), for summaries and tests. */
  readonly timings: StateTiming[];
  readonly retries: Array<{ state: string; attempt: number }>;
  readonly caught: Array<{ state: string; error: string }>;
}

type Write = (line: string) => void;

function jobStateOf(output: unknown): string | undefined {
  const status = (output as { status?: { state?: unknown } } | null)?.status;
  return typeof status?.state === 'string' ? status.state : undefined;
}

function elapsed(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** Follows the event log until the execution ends; `write` gets each line (no newline). */
function jobIdOf(output: unknown): string | undefined {
  const job = (output as { job?: { jobId?: unknown } } | null)?.job;
  return typeof job?.jobId === 'string' ? job.jobId : undefined;
}

/** States worth a line when entered: work and outcomes, not plumbing (Pass, Choice, Wait). */
const ANNOUNCED = new Set(['Task', 'Parallel', 'Succeed', 'Fail']);

/** Follows the event log until the execution ends; `write` gets each line (no newline). */
export async function followProgress(events: ExecutionEvents, write: Write, label = ''): Promise<ProgressRecord> {
  const record: ProgressRecord = { timings: [], retries: [], caught: [] };
  const enteredAt = new Map<string, number>();
  const pollStates = new Set<string>();
  let lastJobState: string | undefined;
  let started = 0;
  const prefix = label ? `[${label}] ` : '';
  const line = (event: ExecutionEvent, text: string) =>
    write(`${prefix}${elapsed(event.timestamp - started).padStart(6)}  ${text}`);

  for await (const event of events) {
    switch (event.type) {
      case 'ExecutionStarted':
        started = event.timestamp;
        line(event, 'execution started');
        break;
      case 'StateEntered':
        enteredAt.set(event.state.name, event.timestamp);
        if (/^Submit/.test(event.state.name)) lastJobState = undefined; // a new job: report its states afresh
        if (ANNOUNCED.has(event.state.type) && !pollStates.has(event.state.name)) line(event, `▶ ${event.state.name}`);
        break;
      case 'StateExited': {
        const since = enteredAt.get(event.state.name) ?? event.timestamp;
        record.timings.push({ name: event.state.name, entered: since, seconds: (event.timestamp - since) / 1000 });
        if (event.state.type !== 'Task' && event.state.type !== 'Parallel') break;
        const jobState = jobStateOf(event.state.output);
        if (jobState !== undefined && event.state.type === 'Task' && !/^Read/.test(event.state.name)) {
          pollStates.add(event.state.name);
          if (jobState !== lastJobState) line(event, `  ${event.state.name}: job ${jobState}`);
          lastJobState = jobState;
          break;
        }
        const jobId = /^Submit/.test(event.state.name) ? jobIdOf(event.state.output) : undefined;
        line(event, `✓ ${event.state.name} (${elapsed(event.timestamp - since)})${jobId ? ` job ${jobId}` : ''}`);
        break;
      }
      case 'StateRetried':
        record.retries.push({ state: event.state.name, attempt: event.retry.attempt });
        line(event, `↻ ${event.state.name}: retry ${event.retry.attempt}`);
        break;
      case 'StateCaught':
        record.caught.push({ state: event.state.name, error: String(event.catch.catcher.ErrorEquals ?? '') });
        line(event, `⤷ ${event.state.name}: error caught, taking the failure path`);
        break;
      case 'StateFailed':
        line(event, `✗ ${event.state.name}: ${event.Error}: ${String(event.Cause ?? '').slice(0, 300)}`);
        break;
      case 'ExecutionSucceeded':
        line(event, 'execution succeeded');
        break;
      case 'ExecutionFailed':
        line(event, `execution failed: ${event.Error}: ${String(event.Cause ?? '').slice(0, 500)}`);
        break;
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
        line(event, `execution ${event.type === 'ExecutionAborted' ? 'aborted' : 'timed out'}`);
        break;
      default:
        break;
    }
  }
  return record;
}
