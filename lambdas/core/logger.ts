/**
 * Structured JSON logs, one line per entry, with the run and job ids carried on every line so a
 * CloudWatch Logs Insights query can follow one run across all the functions. A handler wrapped in
 * `withLambdaContext` also puts the invocation's requestId, functionName, coldStart and xrayTraceId
 * on every line its logger writes, so the step cores never need the Lambda context themselves.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { Environment } from './env';

export type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const ORDER: Record<Level, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };
const LEVELS = Object.keys(ORDER) as Level[];

export type LogFields = Record<string, unknown>;
export type LogSink = (line: string) => void;

/** `debug`, ` Warn ` and the like name a level; anything else (but nothing at all) does not. */
function levelNamed(name: string): Level | undefined {
  const upper = name.trim().toUpperCase();
  return (LEVELS as string[]).includes(upper) ? (upper as Level) : undefined;
}

export class Logger {
  private readonly level: Level;
  /**
   * The fields of the invocation under way, shared by this logger and every logger `with()` makes
   * from it. Scoped to the invocation's own async calls rather than set on the logger: on Lambda
   * one invocation runs at a time per container, so plain per-invocation fields would be safe
   * there, but the local runner (and Lambda's multi-concurrency mode) runs several invocations of
   * one function at once in one process, and each line must carry its own invocation's ids.
   */
  private invocation = new AsyncLocalStorage<LogFields>();

  /**
   * @param level the threshold, DEBUG, INFO, WARN or ERROR (any case); an unknown value falls back
   *   to INFO and says so in one WARN line. @default the LOG_LEVEL variable, else INFO
   * @param sink where each line goes. @default standard output (CloudWatch Logs on AWS)
   */
  constructor(
    private readonly service: string,
    private readonly fields: LogFields = {},
    level: string = process.env.LOG_LEVEL ?? 'INFO',
    private readonly sink: LogSink = (line) => process.stdout.write(`${line}\n`),
  ) {
    const known = levelNamed(level);
    this.level = known ?? 'INFO';
    if (!known && level.trim() !== '') {
      this.warn(`log level ${JSON.stringify(level)} is not one of ${LEVELS.join(', ')}: logging at INFO`);
    }
  }

  /** A logger that adds `fields` (e.g. runId, jobId) to every line; it shares this one's level, sink and invocation fields. */
  with(fields: LogFields): Logger {
    const child = new Logger(this.service, { ...this.fields, ...fields }, this.level, this.sink);
    child.invocation = this.invocation;
    return child;
  }

  /**
   * Runs `work` with `fields` on every line that this logger, or any logger made from it by
   * `with()`, writes from `work` and the async calls it starts, and on no other line.
   */
  runWith<T>(fields: LogFields, work: () => T): T {
    return this.invocation.run({ ...this.invocation.getStore(), ...fields }, work);
  }

  debug(message: string, fields?: LogFields): void {
    this.write('DEBUG', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.write('INFO', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.write('WARN', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.write('ERROR', message, fields);
  }

  private write(level: Level, message: string, fields?: LogFields): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const entry = {
      timestamp: new Date().toISOString(),
      level,
      service: this.service,
      message,
      ...this.invocation.getStore(),
      ...this.fields,
      ...fields,
    };
    this.sink(
      JSON.stringify(entry, (_key, value: unknown) =>
        value instanceof Error ? { name: value.name, message: value.message } : value,
      ),
    );
  }
}

/** The trace id of an X-Ray header (`Root=1-5759e988-bd862e3fe1be46a994272793;Parent=...;Sampled=1`). */
export function xrayTraceId(header: string | undefined): string | undefined {
  const root = header
    ?.split(';')
    .map((part) => part.trim())
    .find((part) => part.startsWith('Root='));
  const id = root?.slice('Root='.length);
  return id || undefined;
}

/** The part of a Lambda context the log lines use; the local runner's host makes contexts with the same fields. */
export interface InvocationContext {
  readonly awsRequestId?: string;
  readonly functionName?: string;
}

function contextText(context: unknown, key: keyof InvocationContext): string | undefined {
  const value = context !== null && typeof context === 'object' ? (context as Record<string, unknown>)[key] : undefined;
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A handler whose every log line, written through `log` or a logger `log.with()` made, carries
 * requestId and functionName (from the context, when it has them), coldStart (true on the first
 * invocation of this handler, that is of the container, only) and xrayTraceId (the Root of
 * `_X_AMZN_TRACE_ID`, which the runtime sets per invocation, when present). The handler gets the
 * event and the context unchanged; it may be called without a context (tests, local runs).
 */
export function withLambdaContext<E, C, R>(
  log: Logger,
  handler: (event: E, context: C) => Promise<R>,
  env: Environment = process.env,
): (event: E, context: C) => Promise<R> {
  let coldStart = true;
  return (event, context) => {
    const requestId = contextText(context, 'awsRequestId');
    const functionName = contextText(context, 'functionName');
    const traceId = xrayTraceId(env._X_AMZN_TRACE_ID);
    const fields: LogFields = {
      ...(requestId ? { requestId } : {}),
      ...(functionName ? { functionName } : {}),
      coldStart,
      ...(traceId ? { xrayTraceId: traceId } : {}),
    };
    coldStart = false;
    return log.runWith(fields, () => handler(event, context));
  };
}
