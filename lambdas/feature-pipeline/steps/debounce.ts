/**
 * The debounce step: every S3 "Object Created" event under experiments/ arrives here, and all
 * the events of one quiet window start ONE execution of the debounce state machine. The window
 * is the one that contains the moment the event is handled (not the object's creation time), and
 * the execution is named after the window's start: Step Functions refuses a second execution of
 * that name, so thousands of events make one execution, without a table or a lock.
 *
 * Why "now" and not the event's time: the execution waits until its window ends and only then
 * starts the feature pipeline, so an object whose event is handled at t is covered when t is in
 * the window (its run starts after t) and, when the event comes late, by the window containing t
 * (whose run also starts after t). Either way the run that the event starts sees the object.
 */
import { ExecutionAlreadyExists, type SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { ConfigurationError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import { type DebounceInput, ObjectCreatedEvent, type QuietWindow } from '../contract';

/** A start of a debounce execution: `started` (or already waiting: the same name and input), `closed` (the name is taken by an ended execution). */
export type StartOutcome = 'started' | 'closed';

/** StartExecution of the debounce state machine: the Step Functions API on AWS, the local host locally. */
export interface DebounceStarter {
  start(name: string, input: DebounceInput): Promise<StartOutcome>;
}

export interface DebounceResult {
  readonly execution: string;
  readonly window: QuietWindow;
  /** `cached`: this function instance already started the window's execution, so no call was made. */
  readonly outcome: 'started' | 'cached';
}

/** RFC 3339 without fractions (what a Wait state's TimestampPath takes). */
function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** The window of `quietSeconds` (aligned to the epoch) that contains `nowMs`. */
export function quietWindow(nowMs: number, quietSeconds: number): QuietWindow {
  const length = quietSeconds * 1000;
  const start = Math.floor(nowMs / length) * length;
  return { start: iso(start), end: iso(start + length) };
}

/** The execution name of a window: `objects-20261201T102000Z` (letters, digits and - only). */
export function executionNameOf(window: QuietWindow): string {
  return `objects-${window.start.replace(/[-:]/g, '')}`;
}

/** Reads QUIET_SECONDS: a whole number of seconds >= 1. */
export function parseQuietSeconds(value: string | undefined, name: string): number {
  const seconds = Number(value);
  if (!value || !Number.isInteger(seconds) || seconds < 1) {
    throw new ConfigurationError(`${name}: expected a whole number of seconds >= 1, got ${JSON.stringify(value)}`);
  }
  return seconds;
}

export interface DebounceDeps {
  readonly starter: DebounceStarter;
  readonly quietSeconds: number;
  /** @default Date.now */
  readonly now?: () => number;
  readonly log?: Logger;
}

export function createDebounceObjects(deps: DebounceDeps) {
  const now = deps.now ?? Date.now;
  const log = deps.log ?? new Logger('debounce-objects');
  // The window this instance started last: while it is the current window its execution is still
  // waiting, so the thousands of events of a burst cost one StartExecution per instance.
  let started: string | undefined;
  return async (event: unknown): Promise<DebounceResult> => {
    const object = parseEvent(ObjectCreatedEvent, event, 'debounce-objects');
    let window = quietWindow(now(), deps.quietSeconds);
    let name = executionNameOf(window);
    if (name === started) return { execution: name, window, outcome: 'cached' };
    if ((await deps.starter.start(name, { window })) === 'closed') {
      // Only with clocks apart (this one behind Step Functions'): the window's execution has
      // already run. The next window's execution starts a run after this object arrived.
      const next = quietWindow(Date.parse(window.end), deps.quietSeconds);
      log.warn('window already closed; starting the next one', { closed: name, next: executionNameOf(next) });
      window = next;
      name = executionNameOf(next);
      if ((await deps.starter.start(name, { window })) === 'closed') {
        throw new ConfigurationError(
          `debounce execution ${name} has already ended; is the clock ${deps.quietSeconds} s off?`,
        );
      }
    }
    started = name;
    log.info('objects window started', { execution: name, window, key: object.detail.object.key });
    return { execution: name, window, outcome: 'started' };
  };
}

/** The Step Functions API as a DebounceStarter; ExecutionAlreadyExists means the name belongs to an ended execution. */
export function stepFunctionsStarter(client: SFNClient, stateMachineArn: string): DebounceStarter {
  return {
    async start(name, input) {
      try {
        await client.send(new StartExecutionCommand({ stateMachineArn, name, input: JSON.stringify(input) }));
        return 'started';
      } catch (cause) {
        if (cause instanceof ExecutionAlreadyExists) return 'closed';
        // Anything else (throttling after the SDK's retries): the invocation fails and Lambda's
        // asynchronous retries, then the daily schedule, pick the object up.
        throw cause;
      }
    },
  };
}
