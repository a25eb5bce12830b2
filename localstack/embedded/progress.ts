/**
 * Progress of a local execution, one line per meaningful step: states entered and left (with
 * their duration), retries, caught errors and the job state whenever a poll sees it change. Poll
 * loops would otherwise print a Wait and a status line every few seconds.
 *
 * A failure that a Retry answers is announced when it happens, with the attempt that follows and
 * when it starts; the runtime only reports the retry once its pause (20 minutes on AWS) is over.
 */
import type { ExecutionEvent, ExecutionEvents, RetryPlan } from './local-host';

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

/** The attempt a Retry schedules after a failure. */
export interface NextAttempt {
  readonly retrierIndex: number;
  /** 2 for the first retry. */
  readonly attempt: number;
  /** The first attempt and the retrier's MaxAttempts. */
  readonly of: number;
  readonly waitMs: number;
}

/** Step Functions' defaults of a retrier's fields. */
const RETRY_DEFAULTS = { IntervalSeconds: 1, MaxAttempts: 3, BackoffRate: 2 } as const;

/**
 * What the state's Retry does with `error` after `retried[i]` retries of each retrier, as
 * Step Functions (and aws-local-stepfunctions) decide it: the first retrier naming the error, and
 * none when that one is spent. Undefined when no attempt follows.
 */
export function nextAttempt(
  plan: RetryPlan,
  stateType: string,
  error: string,
  retried: readonly number[],
): NextAttempt | undefined {
  for (const [i, retrier] of plan.retriers.entries()) {
    const names = retrier.ErrorEquals ?? [];
    const matches =
      names.includes(error) ||
      names.includes('States.ALL') ||
      (names.includes('States.TaskFailed') && stateType === 'Task' && error !== 'States.Timeout');
    if (!matches) continue;
    const maxAttempts = retrier.MaxAttempts ?? RETRY_DEFAULTS.MaxAttempts;
    const done = retried[i] ?? 0;
    if (done >= maxAttempts) return undefined;
    const override = typeof plan.overrideMs === 'number' ? plan.overrideMs : plan.overrideMs?.[i];
    const seconds =
      override !== undefined && override >= 0
        ? override / 1000
        : (retrier.IntervalSeconds ?? RETRY_DEFAULTS.IntervalSeconds) *
          (retrier.BackoffRate ?? RETRY_DEFAULTS.BackoffRate) ** done;
    const capped = retrier.MaxDelaySeconds ? Math.min(seconds, retrier.MaxDelaySeconds) : seconds;
    return { retrierIndex: i, attempt: done + 2, of: maxAttempts + 1, waitMs: Math.round(capped * 1000) };
  }
  return undefined;
}

/** "in 30 s", "in 20 min". */
function inDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  return seconds < 90 ? `in ${seconds} s` : `in ${Math.round(seconds / 60)} min`;
}

/** "10:42:05 UTC". */
function clock(ms: number): string {
  return `${new Date(ms).toISOString().slice(11, 19)} UTC`;
}

/** The first line of an error's cause, cut to `limit`. */
function firstLine(cause: unknown, limit = 200): string {
  const line = String(cause ?? '').split('\n', 1)[0];
  return line.length > limit ? `${line.slice(0, limit)}...` : line;
}

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
export async function followProgress(
  events: ExecutionEvents,
  write: Write,
  label = '',
  retryPlans: Readonly<Record<string, RetryPlan>> = {},
): Promise<ProgressRecord> {
  const record: ProgressRecord = { timings: [], retries: [], caught: [] };
  /** Retries so far per state and retrier; a state that ends (left or caught) starts afresh. */
  const retried = new Map<string, number[]>();
  /** The attempt announced at the failure, for the line when it starts. */
  const coming = new Map<string, NextAttempt>();
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
        retried.delete(event.state.name);
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
      case 'StateRetried': {
        record.retries.push({ state: event.state.name, attempt: event.retry.attempt });
        const next = coming.get(event.state.name);
        coming.delete(event.state.name);
        line(
          event,
          next
            ? `↻ ${event.state.name}: attempt ${next.attempt} of ${next.of} starts`
            : `↻ ${event.state.name}: retry ${event.retry.attempt}`,
        );
        break;
      }
      case 'StateCaught':
        retried.delete(event.state.name);
        record.caught.push({ state: event.state.name, error: String(event.catch.catcher.ErrorEquals ?? '') });
        line(event, `⤷ ${event.state.name}: error caught, taking the failure path`);
        break;
      case 'StateFailed': {
        const { name, type } = event.state;
        const plan = retryPlans[name];
        const counts = retried.get(name) ?? [];
        const next = plan && nextAttempt(plan, type, event.Error, counts);
        if (!next) {
          line(event, `✗ ${name}: ${event.Error}: ${String(event.Cause ?? '').slice(0, 300)}`);
          break;
        }
        counts[next.retrierIndex] = (counts[next.retrierIndex] ?? 0) + 1;
        retried.set(name, counts);
        coming.set(name, next);
        line(
          event,
          `↻ ${name} failed (${event.Error}: ${firstLine(event.Cause)}); attempt ${next.attempt} of ${next.of} ` +
            `starts at ${clock(event.timestamp + next.waitMs)} (${inDuration(next.waitMs)})`,
        );
        break;
      }
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
