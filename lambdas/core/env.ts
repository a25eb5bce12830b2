/**
 * Reading a Lambda's deployed settings from its environment, for every state machine's functions:
 * a missing or malformed variable stops the function with a ConfigurationError naming it.
 */
import type { z } from 'zod';
import { ConfigurationError } from './errors';
import { describeIssues } from './validation';

export type Environment = Readonly<Record<string, string | undefined>>;

export function requireEnv(env: Environment, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === '') {
    throw new ConfigurationError(`environment variable ${name} is not set`);
  }
  return value;
}

/** A variable holding JSON that must match `schema`; a ConfigurationError names the variable and the field. */
export function readJsonEnv<T extends z.ZodType>(env: Environment, name: string, schema: T): z.infer<T> {
  const text = requireEnv(env, name);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new ConfigurationError(`environment variable ${name} is not JSON`, { cause });
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw new ConfigurationError(`environment variable ${name}: ${describeIssues(result.error, parsed)}`);
  }
  return result.data;
}
