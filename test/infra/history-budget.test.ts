/** The Step Functions history arithmetic shared by the feature pipeline and the VQE batch. */
import { describe, expect, it } from 'vitest';
import {
  assertFitsHistory,
  HISTORY_EVENT_LIMIT,
  itemsWithin,
  pollingEvents,
  pollsWithin,
} from '../../infra/common/history-budget';

describe('history budget', () => {
  it('counts one poll per whole or part interval within the timeout', () => {
    // Act + Assess
    expect(pollsWithin(7200, 60)).toBe(120);
    expect(pollsWithin(7201, 60)).toBe(121);
    expect(pollsWithin(30, 60)).toBe(1);
  });

  it("adds the poll that sees the end and the fixed events to a loop's worst case", () => {
    // Act
    const batchRun = pollingEvents({ timeoutSeconds: 7200, pollSeconds: 60, eventsPerPoll: 10, fixedEvents: 9 });
    const bare = pollingEvents({ timeoutSeconds: 600, pollSeconds: 60, eventsPerPoll: 9 });

    // Assess: 121 polls of 10 events plus 9 (the VQE batch's run); 11 polls of 9 without fixed events
    expect(batchRun).toBe(1219);
    expect(bare).toBe(99);
  });

  it('fits whole items only, and none when one is larger than the budget', () => {
    // Act + Assess
    expect(itemsWithin(24_000, 1219)).toBe(19);
    expect(itemsWithin(24_000, 24_001)).toBe(0);
  });

  it("passes a history at the budget and throws the caller's message above it", () => {
    // Act + Assess
    expect(() => assertFitsHistory(20_000, 20_000, () => 'too long')).not.toThrow();
    expect(() => assertFitsHistory(20_001, 20_000, () => 'Construct: prop=5 is too long')).toThrow(
      'Construct: prop=5 is too long',
    );
  });

  it.each([
    [
      'a budget above the limit',
      () => assertFitsHistory(1, HISTORY_EVENT_LIMIT + 1, () => ''),
      'history budget must be a whole number of events from 1 to 25000, got 25001',
    ],
    [
      'a fractional budget',
      () => itemsWithin(100.5, 10),
      'history budget must be a whole number of events from 1 to 25000, got 100.5',
    ],
    ['items of no events', () => itemsWithin(100, 0), 'itemsWithin: eventsEach must be positive, got 0'],
    [
      'a zero poll interval',
      () => pollsWithin(60, 0),
      'pollsWithin: timeoutSeconds and pollSeconds must be positive, got 60 and 0',
    ],
    [
      'a negative timeout',
      () => pollingEvents({ timeoutSeconds: -1, pollSeconds: 60, eventsPerPoll: 9 }),
      'pollsWithin: timeoutSeconds and pollSeconds must be positive, got -1 and 60',
    ],
  ])('refuses %s, naming it', (_name, act, message) => {
    // Act + Assess
    expect(act).toThrow(message);
  });

  it("keeps Step Functions' limit of 25,000 events", () => {
    // Assess
    expect(HISTORY_EVENT_LIMIT).toBe(25_000);
  });
});
