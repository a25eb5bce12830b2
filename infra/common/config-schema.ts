/**
 * Building blocks of the app's configuration schema (infra/config.ts and the sections kept with
 * their domains): CDK context values arrive as strings, so each section parses them first.
 */
import { z } from 'zod';

/** `-c key=value` arrives as a string: JSON for objects, and the words true/false/numbers. */
export function fromContext(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const text = value.trim();
  if (/^[{[]/.test(text) || text === 'true' || text === 'false' || /^-?\d+(\.\d+)?$/.test(text)) {
    try {
      return JSON.parse(text);
    } catch {
      return value; // left as text; the schema then names the field
    }
  }
  return value;
}
export const ctx = <T extends z.ZodType>(schema: T) => z.preprocess(fromContext, schema);

export const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name');
export const memory = z.string().regex(/^\d+[mg]$/, 'expected a size such as 1536m or 2g');

/** An EventBridge Scheduler expression. */
export const scheduleExpression = z
  .string()
  .regex(/^(cron|rate|at)\(.+\)$/, 'expected cron(...), rate(...) or at(...)');
