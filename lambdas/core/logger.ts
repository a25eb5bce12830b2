/**
 * Structured JSON logs, one line per entry, with the run and job ids carried on every line so a
 * CloudWatch Logs Insights query can follow one run across all the functions.
 */
type Level = 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
const ORDER: Record<Level, number> = { DEBUG: 10, INFO: 20, WARN: 30, ERROR: 40 };

export type LogFields = Record<string, unknown>;

export class Logger {
  private readonly threshold: number;

  constructor(
    private readonly service: string,
    private readonly fields: LogFields = {},
    level: string = process.env.LOG_LEVEL ?? 'INFO',
    private readonly sink: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {
    this.threshold = ORDER[(level.toUpperCase() as Level)] ?? ORDER.INFO;
  }

  /** A logger that adds `fields` (e.g. runId, jobId) to every line. */
  with(fields: LogFields): Logger {
    return new Logger(this.service, { ...this.fields, ...fields }, Object.keys(ORDER).find(
      (name) => ORDER[name as Level] === this.threshold) ?? 'INFO', this.sink);
  }

  debug(message: string, fields?: LogFields): void { this.write('DEBUG', message, fields); }
  info(message: string, fields?: LogFields): void { this.write('INFO', message, fields); }
  warn(message: string, fields?: LogFields): void { this.write('WARN', message, fields); }
  error(message: string, fields?: LogFields): void { this.write('ERROR', message, fields); }

  private write(level: Level, message: string, fields?: LogFields): void {
    if (ORDER[level] < this.threshold) return;
    const entry = { timestamp: new Date().toISOString(), level, service: this.service, message, ...this.fields, ...fields };
    this.sink(JSON.stringify(entry, (_key, value: unknown) =>
      value instanceof Error ? { name: value.name, message: value.message } : value));
  }
}
