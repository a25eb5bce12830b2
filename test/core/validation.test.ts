/**
 * parseEvent and parseInput: each step's event (or the console input inside it) checked once, an
 * InvalidInputError naming the step or input, the field and the value.
 */
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { InvalidInputError } from '../../lambdas/core/errors';
import {
  describeIssues,
  MAX_DEPTH,
  MAX_MESSAGE,
  parseEvent,
  parseInput,
  tooDeepAt,
} from '../../lambdas/core/validation';
import { validateInput } from '../../lambdas/feature-pipeline/steps/validate-input';
import { createSyncHealthCheck } from '../../lambdas/r2-sync/steps/health-check';
import type { BatchSettings } from '../../lambdas/vqe-batch/contract';
import type { RunStateStore } from '../../lambdas/vqe-batch/state-store';
import { createPlanBatch } from '../../lambdas/vqe-batch/steps/plan';
import { syncSettings } from '../r2-sync/fixtures';

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

const ConsoleInput = z
  .object({
    maxFiles: z.number().int().positive().optional(),
    limits: z
      .object({ window: z.number().int().min(1).max(9) })
      .strict()
      .optional(),
  })
  .strict();

/** The error `act` throws synchronously (or undefined). */
function thrownSync(act: () => unknown): Error | undefined {
  try {
    act();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

describe('parseInput', () => {
  it('returns the parsed input', () => {
    // Act
    const input = parseInput(ConsoleInput, { maxFiles: 3 });

    // Assess
    expect(input).toEqual({ maxFiles: 3 });
  });

  it('without a label names the problems alone, as the console shows them', () => {
    // Act
    const thrown = thrownSync(() => parseInput(ConsoleInput, { maxFiles: 0 }));

    // Assess
    expect(thrown).toBeInstanceOf(InvalidInputError);
    expect(thrown?.name).toBe('InvalidInputError');
    expect(thrown?.message).toBe('maxFiles: Too small: expected number to be >0, got 0');
  });

  it('starts the message with the label', () => {
    // Act
    const thrown = thrownSync(() => parseInput(ConsoleInput, { maxFiles: 'all' }, { label: 'batch input' }));

    // Assess
    expect(thrown?.message).toMatch(/^batch input: maxFiles: .*got "all"$/);
  });

  it('words a field by its expectation and hints known field names per object path', () => {
    // Prepare
    const options = {
      knownKeys: { '': ['maxFiles', 'limits'], limits: ['window'] },
      expectations: { 'limits.window': 'expected a whole number from 1 to 9' },
    };

    // Act
    const thrown = thrownSync(() =>
      parseInput(ConsoleInput, { maxFile: 1, limits: { window: 10, windw: 2 } }, options),
    );

    // Assess
    expect(thrown?.message).toContain('unknown field "maxFile" (did you mean "maxFiles"?)');
    expect(thrown?.message).toContain('limits.window: expected a whole number from 1 to 9, got 10');
    expect(thrown?.message).toContain('limits: unknown field "windw" (did you mean "window"?)');
  });

  it('looks paths up in its own tables only, never on the object prototype', () => {
    // Prepare
    const Schema = z.object({ constructor: z.object({}).strict(), toString: z.number() });

    // Act
    const thrown = thrownSync(() =>
      parseInput(Schema, { constructor: { extra: 1 }, toString: 'x' }, { knownKeys: {}, expectations: {} }),
    );

    // Assess
    expect(thrown?.name).toBe('InvalidInputError');
    expect(thrown?.message).toContain('constructor: unknown field "extra"');
    expect(thrown?.message).toMatch(/toString: Invalid input: expected number, received string, got "x"/);
  });

  it('refuses an input nested deeper than 32 levels, naming where after the label', () => {
    // Act
    const thrown = thrownSync(() => parseInput(ConsoleInput, { limits: nested(40) }, { label: 'batch input' }));

    // Assess
    expect(thrown?.name).toBe('InvalidInputError');
    expect(thrown?.message).toBe(
      `batch input: limits${'.a'.repeat(MAX_DEPTH - 1)}: nested deeper than 32 levels (objects and arrays), got more`,
    );
  });

  it('caps a message with a long label at 4 KB', () => {
    // Act
    const thrown = thrownSync(() => parseInput(ConsoleInput, { maxFiles: 0 }, { label: 'x'.repeat(10_000) }));

    // Assess
    expect(thrown?.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    expect(thrown?.message).toMatch(/\.\.\. \(\d+ characters\)$/);
  });
});

/** `levels` objects nested in one another: {"a": {"a": ... 1}}. */
function nested(levels: number): unknown {
  let value: unknown = 1;
  for (let level = 0; level < levels; level += 1) value = { a: value };
  return value;
}

/** The error `act` throws (or undefined). */
async function thrownBy(act: () => unknown): Promise<Error | undefined> {
  try {
    await act();
  } catch (error) {
    return error as Error;
  }
  return undefined;
}

/** A dependency that must not be reached: the input is refused before it. */
const untouchable = <T extends object>(name: string): T =>
  new Proxy({} as T, {
    get: (_target, property) => {
      throw new Error(`${name}.${String(property)} touched`);
    },
  });

const LONG_KEY = 'k'.repeat(300_000);

describe('input nesting', () => {
  it('refuses an event nested deeper than 32 levels before parsing it, naming where', () => {
    // Act
    const thrown = (() => {
      try {
        parseEvent(Event, { run: nested(5000), table: 'ml_run_summary' }, 'sync-table');
      } catch (error) {
        return error as Error;
      }
      return undefined;
    })();

    // Assess
    expect(thrown).toBeInstanceOf(InvalidInputError);
    expect(thrown?.message).toBe(
      `sync-table event: run${'.a'.repeat(MAX_DEPTH - 1)}: nested deeper than 32 levels (objects and arrays), got more`,
    );
  });

  it('lets an event of exactly 32 levels through to the schema', () => {
    // Prepare
    const Deep = z.object({ run: z.unknown() });

    // Act
    const parsed = parseEvent(Deep, { run: nested(MAX_DEPTH - 1) }, 'step');

    // Assess
    expect(tooDeepAt({ run: nested(MAX_DEPTH - 1) })).toBeUndefined();
    expect(parsed.run).toEqual(nested(MAX_DEPTH - 1));
  });

  it('counts arrays as levels too, and names their indexes', () => {
    // Prepare
    let value: unknown = [];
    for (let level = 0; level < 40; level += 1) value = [0, value];

    // Act
    const path = tooDeepAt(value);

    // Assess
    expect(path).toEqual(Array.from({ length: MAX_DEPTH }, () => 1));
  });

  it('describes a value too deep for JSON.stringify by its shape instead of overflowing the stack', () => {
    // Prepare
    const Schema = z.object({ n: z.number() });
    const input = { n: nested(20_000) };
    const error = Schema.safeParse(input).error as z.ZodError;

    // Act
    const message = describeIssues(error, input);

    // Assess
    expect(message).toBe('n: Invalid input: expected number, received object, got {...}');
  });

  it.each([
    [
      'validate-input (feature pipeline)',
      () => validateInput({ input: { mlParams: nested(5000) }, executionName: 'x' }),
    ],
    [
      'plan (vqe batch)',
      () =>
        createPlanBatch({
          settings: untouchable<BatchSettings>('settings'),
          store: untouchable<RunStateStore>('store'),
        })({ input: { lanes: nested(5000) }, executionName: 'x', startTime: '2026-12-02T10:00:00Z' }),
    ],
    [
      'health-check (r2 sync)',
      () =>
        createSyncHealthCheck({ settings: syncSettings, clients: untouchable('clients') })({
          input: { tables: nested(5000) },
          executionName: 'x',
        }),
    ],
  ])('%s refuses a console input nested 5,000 levels deep with a field-named InvalidInputError', async (_, act) => {
    // Act
    const thrown = await thrownBy(act);

    // Assess
    expect(thrown?.name).toBe('InvalidInputError');
    expect(thrown?.message).toMatch(
      /^[a-z-]+ event: input\.(mlParams|lanes|tables)\.a\.a.*: nested deeper than 32 levels/,
    );
  });
});

describe('error message size', () => {
  it('shortens an unknown key, with its length, and keeps the message under 4 KB', () => {
    // Prepare
    const error = Event.safeParse({ run: { runId: 'r' }, table: 'ml_run_summary', [LONG_KEY]: 1 }).error as z.ZodError;

    // Act
    const message = describeIssues(error, {});

    // Assess
    expect(message).toBe(`unknown field "${'k'.repeat(64)}"... (300000 characters)`);
  });

  it('shortens a long key in a field path', () => {
    // Prepare
    const Schema = z.record(z.string(), z.number());
    const input = { [LONG_KEY]: 'x' };
    const error = Schema.safeParse(input).error as z.ZodError;

    // Act
    const message = describeIssues(error, input);

    // Assess
    expect(message.length).toBeLessThan(200);
    expect(message).toMatch(/^k{40,64}\.\.\. \(300000 characters\): .*got "x"$/);
  });

  it('cuts a message of many problems at 4 KB, saying how long it was', () => {
    // Prepare
    const Schema = z.object({}).strict();
    const input = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`field${i}`, i]));
    const error = Schema.safeParse(input).error as z.ZodError;

    // Act
    const message = describeIssues(error, input);

    // Assess
    expect(message.length).toBeLessThanOrEqual(MAX_MESSAGE);
    expect(message).toMatch(/^unknown field "field0"; unknown field "field1"; .*\.\.\. \(\d{5} characters\)$/);
  });

  it.each([
    ['validate-input (feature pipeline)', () => validateInput({ input: { [LONG_KEY]: 1 }, executionName: 'x' })],
    [
      'plan (vqe batch)',
      () =>
        createPlanBatch({
          settings: untouchable<BatchSettings>('settings'),
          store: untouchable<RunStateStore>('store'),
        })({ input: { [LONG_KEY]: 1 }, executionName: 'x', startTime: '2026-12-02T10:00:00Z' }),
    ],
    [
      'health-check (r2 sync)',
      () =>
        createSyncHealthCheck({ settings: syncSettings, clients: untouchable('clients') })({
          input: { [LONG_KEY]: 1 },
          executionName: 'x',
        }),
    ],
  ])('%s names a 300 KB unknown key in a message far under the 32 KB error limit', async (_, act) => {
    // Act
    const thrown = await thrownBy(act);

    // Assess
    expect(thrown?.name).toBe('InvalidInputError');
    expect(thrown?.message).toMatch(/unknown field "k{64}"\.\.\. \(300000 characters\)$/);
    expect(thrown?.message.length).toBeLessThan(MAX_MESSAGE);
  });

  it('caps the message of parseEvent itself, step name included', () => {
    // Prepare
    const Schema = z.object({}).strict();
    const event = Object.fromEntries(Array.from({ length: 3000 }, (_, i) => [`f${i}`, i]));

    // Act
    const thrown = (() => {
      try {
        parseEvent(Schema, event, 'x'.repeat(5000));
      } catch (error) {
        return error as Error;
      }
      return undefined;
    })();

    // Assess
    expect(thrown?.name).toBe('InvalidInputError');
    expect(thrown?.message.length).toBeLessThanOrEqual(MAX_MESSAGE);
  });
});
