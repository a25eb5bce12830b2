/** zod failures turned into one message that names every bad field and the value it had. */
import type { z } from 'zod';
import { InvalidInputError } from './errors';

const KNOWN_SHORT = 60;

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text.length > KNOWN_SHORT ? `${text.slice(0, KNOWN_SHORT - 3)}...` : text;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, key) =>
      node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined,
    input,
  );
}

function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (text, key) => (typeof key === 'number' ? `${text}[${key}]` : text ? `${text}.${String(key)}` : String(key)),
    '',
  );
}

/** Levenshtein distance, for "did you mean" hints on misspelt field names. */
function distance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i += 1) {
    let previous = row[0];
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}

export function closestName(name: string, known: readonly string[]): string | undefined {
  const ranked = known
    .map((candidate) => ({ candidate, d: distance(name.toLowerCase(), candidate.toLowerCase()) }))
    .sort((x, y) => x.d - y.d);
  const best = ranked[0];
  return best && best.d <= Math.max(2, Math.ceil(best.candidate.length * 0.4)) ? best.candidate : undefined;
}

/** Per field path (e.g. `mlParams.rollingWindow`), the plain-words rule the value broke. */
export type Expectations = (path: string) => string | undefined;

/**
 * One line per problem: `mlParams.rollingWindow: expected a whole number from 1 to 1000, got 0`.
 * `knownKeys` gives, per object path, the field names for "did you mean" hints on unknown keys;
 * `expectations` replaces zod's wording (which names one bound at a time) for the fields it knows.
 * A field with several broken rules is named once.
 */
export function describeIssues(
  error: z.ZodError,
  input: unknown,
  knownKeys: (path: string) => readonly string[] = () => [],
  expectations: Expectations = () => undefined,
): string {
  const lines = error.issues.map((issue) => {
    const where = pathText(issue.path);
    if (issue.code === 'unrecognized_keys') {
      return issue.keys
        .map((key) => {
          const hint = closestName(key, knownKeys(where));
          return `${where ? `${where}: ` : ''}unknown field "${key}"${hint ? ` (did you mean "${hint}"?)` : ''}`;
        })
        .join('; ');
    }
    const rule = expectations(where) ?? issue.message;
    return `${where || '(input)'}: ${rule}, got ${describeValue(valueAt(input, issue.path))}`;
  });
  return [...new Set(lines)].join('; ');
}

/**
 * A step's event, checked once against its schema, as the step's typed input. An event that does
 * not match stops the step with an InvalidInputError naming the step and every bad field:
 * `start-run event: cursor: Invalid input: expected number, received undefined, got nothing`.
 */
export function parseEvent<S extends z.ZodType>(schema: S, event: unknown, step: string): z.output<S> {
  const parsed = schema.safeParse(event);
  if (!parsed.success) throw new InvalidInputError(`${step} event: ${describeIssues(parsed.error, event)}`);
  return parsed.data;
}
