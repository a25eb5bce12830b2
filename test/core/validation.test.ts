/** parseEvent: each step's event checked once, an InvalidInputError naming the step, the field and the value. */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidInputError } from '../../lambdas/core/errors';
import { parseEvent } from '../../lambdas/core/validation';

const Event = z
  .object({
    run: z.object({ runId: z.string().min(1), dryRun: z.boolean().default(false) }),
    table: z.enum(['ml_run_summary', 'ml_iteration_features']),
  })
  .strict();

describe('parseEvent', () => {
  it('returns the parsed event, defaults applied', () => {
    // Act
    const event = parseEvent(Event, { run: { runId: 'r-1' }, table: 'ml_run_summary' }, 'sync-table');

    // Assess
    expect(event).toEqual({ run: { runId: 'r-1', dryRun: false }, table: 'ml_run_summary' });
  });

  it('throws InvalidInputError naming the step and every bad field with its value', () => {
    // Act
    const thrown = (() => {
      try {
        parseEvent(Event, { run: { runId: '', dryRun: 'yes' }, table: 'molecules', extra: 1 }, 'sync-table');
      } catch (error) {
        return error;
      }
      return undefined;
    })();

    // Assess
    expect(thrown).toBeInstanceOf(InvalidInputError);
    const { name, message } = thrown as Error;
    expect(name).toBe('InvalidInputError');
    expect(message).toMatch(/^sync-table event: /);
    expect(message).toMatch(/run\.runId: .*got ""/);
    expect(message).toMatch(/run\.dryRun: .*got "yes"/);
    expect(message).toMatch(/table: .*got "molecules"/);
    expect(message).toMatch(/unknown field "extra"/);
  });

  it('names a missing event as the input, got nothing', () => {
    expect(() => parseEvent(Event, undefined, 'start-run')).toThrow(/^start-run event: \(input\): .*got nothing$/);
  });
});
