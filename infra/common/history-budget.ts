/**
 * The history arithmetic of polling state machines. Step Functions ends an execution whose history
 * reaches 25,000 events, so a machine that polls must bound its worst case (every poll taken, every
 * attempt timing out) below a budget of its own, a margin under the limit for the states around
 * the polling. Each construct keeps its own budget and event counts; the counting is here.
 */

/** Step Functions' hard limit of events in one execution's history. */
export const HISTORY_EVENT_LIMIT = 25_000;

/**
 * Polls, `pollSeconds` apart, that start before `timeoutSeconds` have passed: one per whole or
 * part interval (the wait of a part interval still starts). A loop that polls until its timeout
 * makes one more, the poll that sees the end.
 */
export function pollsWithin(timeoutSeconds: number, pollSeconds: number): number {
  if (!(timeoutSeconds > 0) || !(pollSeconds > 0)) {
    throw new RangeError(
      `pollsWithin: timeoutSeconds and pollSeconds must be positive, got ${timeoutSeconds} and ${pollSeconds}`,
    );
  }
  return Math.ceil(timeoutSeconds / pollSeconds);
}

export interface PollingLoop {
  /** How long the loop may poll before it is ended. */
  readonly timeoutSeconds: number;
  readonly pollSeconds: number;
  /** Events one turn of the loop writes (e.g. Wait, Task and Choice, entered and exited). */
  readonly eventsPerPoll: number;
  /** Events outside the loop (e.g. the submit or launch before it). @default 0 */
  readonly fixedEvents?: number;
}

/** Worst-case events of one polling loop: every poll within its timeout and the one that sees the end, plus the fixed events. */
export function pollingEvents(loop: PollingLoop): number {
  return (loop.fixedEvents ?? 0) + (pollsWithin(loop.timeoutSeconds, loop.pollSeconds) + 1) * loop.eventsPerPoll;
}

/** How many items of `eventsEach` events fit `budget` side by side in one history (0 when not even one does). */
export function itemsWithin(budget: number, eventsEach: number): number {
  checkBudget(budget);
  if (!(eventsEach > 0)) throw new RangeError(`itemsWithin: eventsEach must be positive, got ${eventsEach}`);
  return Math.floor(budget / eventsEach);
}

/**
 * Throws `new Error(message())` when `events` exceed `budget`: the caller's message names its
 * own prop and value. A budget above Step Functions' limit is the caller's mistake and throws too.
 */
export function assertFitsHistory(events: number, budget: number, message: () => string): void {
  checkBudget(budget);
  if (events > budget) throw new Error(message());
}

function checkBudget(budget: number): void {
  if (!Number.isInteger(budget) || budget < 1 || budget > HISTORY_EVENT_LIMIT) {
    throw new RangeError(
      `history budget must be a whole number of events from 1 to ${HISTORY_EVENT_LIMIT}, got ${budget}`,
    );
  }
}
