/**
 * zod failures turned into one message that names every bad field and the value it had.
 *
 * Bounded whatever the input: an error message becomes the Step Functions error cause (at most
 * 32 KB), so every value and key quoted in it is shortened (with its original length) and the
 * whole message is cut at MAX_MESSAGE characters; and an event nested deeper than MAX_DEPTH
 * levels is refused before zod (or JSON.stringify) recurses into it.
 */
import type { z } from 'zod';
import { InvalidInputError } from './errors';

const KNOWN_SHORT = 60;
/** A key or path segment quoted in a message is cut to this many characters. */
const KEY_SHORT = 64;
/** The longest message describeIssues and parseEvent build (well under Step Functions' 32 KB cause). */
export const MAX_MESSAGE = 4096;
/** Objects and arrays nested deeper than this are refused before they are parsed. */
export const MAX_DEPTH = 32;

/** `text` cut to `max` characters with an ellipsis and the original length when longer. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text;
  const note = `... (${text.length} characters)`;
  return `${text.slice(0, Math.max(0, max - note.length))}${note}`;
}

function describeValue(value: unknown): string {
  if (value === undefined) return 'nothing';
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch {
    // Nested too deep for the stack (or cyclic): the shape is enough to name it.
    return Array.isArray(value) ? '[...]' : '{...}';
  }
  return text === undefined ? String(value) : text.length > KNOWN_SHORT ? `${text.slice(0, KNOWN_SHORT - 3)}...` : text;
}

/** A key quoted in a message: JSON-quoted, shortened with its original length when long. */
function keyText(key: string): string {
  return key.length <= KEY_SHORT
    ? JSON.stringify(key)
    : `${JSON.stringify(key.slice(0, KEY_SHORT))}... (${key.length} characters)`;
}

/**
 * The path of the first object or array nested deeper than `maxDepth` levels, or undefined.
 * Iterative (an explicit stack), so an input nested thousands of levels deep cannot overflow it.
 */
export function tooDeepAt(value: unknown, maxDepth: number = MAX_DEPTH): PropertyKey[] | undefined {
  const stack: { node: unknown; path: PropertyKey[] }[] = [{ node: value, path: [] }];
  while (stack.length > 0) {
    const { node, path } = stack.pop() as { node: unknown; path: PropertyKey[] };
    if (node === null || typeof node !== 'object') continue;
    if (path.length >= maxDepth) return path;
    const entries: [PropertyKey, unknown][] = Array.isArray(node)
      ? node.map((item, index) => [index, item])
      : Object.entries(node);
    for (const [key, child] of entries) {
      if (child !== null && typeof child === 'object') stack.push({ node: child, path: [...path, key] });
    }
  }
  return undefined;
}

/**
 * Throws an InvalidInputError when `value` nests objects or arrays deeper than MAX_DEPTH levels,
 * naming where (`label: input.a.a...: nested deeper than 32 levels`), before anything recurses into it.
 * An empty `label` leaves the message to the path alone.
 */
export function assertShallow(value: unknown, label: string, maxDepth: number = MAX_DEPTH): void {
  const path = tooDeepAt(value, maxDepth);
  if (path) {
    throw new InvalidInputError(
      truncate(
        `${prefix(label)}${pathText(path) || '(input)'}: nested deeper than ${maxDepth} levels (objects and arrays), got more`,
        MAX_MESSAGE,
      ),
    );
  }
}

/** `label: `, or nothing for an empty label. */
function prefix(label: string): string {
  return label ? `${label}: ` : '';
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>(
    (node, key) =>
      node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined,
    input,
  );
}

function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>((text, key) => {
    if (typeof key === 'number') return `${text}[${key}]`;
    const name = truncate(String(key), KEY_SHORT);
    return text ? `${text}.${name}` : name;
  }, '');
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
  // No field name is this long: a hint would cost a distance over every character for nothing.
  if (name.length > KEY_SHORT) return undefined;
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
          return `${where ? `${where}: ` : ''}unknown field ${keyText(key)}${hint ? ` (did you mean "${hint}"?)` : ''}`;
        })
        .join('; ');
    }
    const rule = expectations(where) ?? issue.message;
    return `${where || '(input)'}: ${rule}, got ${describeValue(valueAt(input, issue.path))}`;
  });
  return truncate([...new Set(lines)].join('; '), MAX_MESSAGE);
}

/** How parseInput words its refusal. */
export interface ParseOptions {
  /**
   * Starts the message (`batch input: tier: ...`). Without one the message is the problems alone,
   * as the console shows them (`maxFiles: expected a positive whole number, got 0`).
   */
  readonly label?: string;
  /** Per object path ('' for the top level), the field names for "did you mean" hints on unknown keys. */
  readonly knownKeys?: Readonly<Record<string, readonly string[]>>;
  /** Per field path, the plain-words rule that replaces zod's wording (see describeIssues). */
  readonly expectations?: Readonly<Record<string, string>>;
}

/** `table[path]` when the table itself holds it: a path such as `constructor` must not reach Object's prototype. */
function ownEntry<T>(table: Readonly<Record<string, T>> | undefined, path: string): T | undefined {
  return table !== undefined && Object.hasOwn(table, path) ? table[path] : undefined;
}

/**
 * `input` checked once against `schema`, as its typed output. Input that does not match (or nests
 * deeper than MAX_DEPTH levels) is refused with an InvalidInputError, which Step Functions never
 * retries, naming every bad field and its value in a message of at most MAX_MESSAGE characters.
 */
export function parseInput<S extends z.ZodType>(schema: S, input: unknown, options: ParseOptions = {}): z.output<S> {
  const { label = '', knownKeys, expectations } = options;
  assertShallow(input, label);
  const parsed = schema.safeParse(input);
  if (!parsed.success) {
    const problems = describeIssues(
      parsed.error,
      input,
      (path) => ownEntry(knownKeys, path) ?? [],
      (path) => ownEntry(expectations, path),
    );
    throw new InvalidInputError(truncate(`${prefix(label)}${problems}`, MAX_MESSAGE));
  }
  return parsed.data;
}

/**
 * A step's event, checked once against its schema, as the step's typed input. An event that does
 * not match stops the step with an InvalidInputError naming the step and every bad field:
 * `start-run event: cursor: Invalid input: expected number, received undefined, got nothing`.
 */
export function parseEvent<S extends z.ZodType>(schema: S, event: unknown, step: string): z.output<S> {
  return parseInput(schema, event, { label: `${step} event` });
}
