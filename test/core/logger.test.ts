/**
 * The JSON logger: one line per entry, the level threshold (LOG_LEVEL), and the Lambda context
 * fields `withLambdaContext` puts on every line of an invocation without the step cores knowing.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Logger, withLambdaContext, xrayTraceId } from '../../lambdas/core/logger';

const TRACE = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
const CONTEXT = { awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678', functionName: 'qp-submit-job' };

/** A logger whose lines land, parsed, in `lines`. */
function capture(level = 'DEBUG', service = 'submit-job') {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger(service, {}, level, (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  return { log, lines };
}

afterEach(() => {
  vi.unstubAllEnvs();
});

describe('Logger', () => {
  it('writes one JSON line per entry: timestamp, level, service, message, then the bound and the given fields', () => {
    // Prepare
    const raw: string[] = [];
    const log = new Logger('job-status', { stage: 'poll' }, 'INFO', (line) => raw.push(line)).with({ runId: 'run-1' });

    // Act
    log.info('job polled', { state: 'RUNNING' });

    // Assess
    expect(raw).toHaveLength(1);
    expect(raw[0]).not.toContain('\n');
    const entry = JSON.parse(raw[0]) as Record<string, unknown>;
    expect(Object.keys(entry).slice(0, 4)).toEqual(['timestamp', 'level', 'service', 'message']);
    expect(entry).toEqual({
      timestamp: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      level: 'INFO',
      service: 'job-status',
      message: 'job polled',
      stage: 'poll',
      runId: 'run-1',
      state: 'RUNNING',
    });
  });

  it('logs an Error as its name and message', () => {
    // Prepare
    const { log, lines } = capture();
    const error = Object.assign(new Error('down'), { name: 'SparkBackendUnavailableError' });

    // Act
    log.error('cancel failed', { error, nested: { cause: new TypeError('bad') } });

    // Assess
    expect(lines[0]).toMatchObject({
      level: 'ERROR',
      error: { name: 'SparkBackendUnavailableError', message: 'down' },
      nested: { cause: { name: 'TypeError', message: 'bad' } },
    });
  });

  it.each([
    ['DEBUG', ['DEBUG', 'INFO', 'WARN', 'ERROR']],
    ['INFO', ['INFO', 'WARN', 'ERROR']],
    ['warn', ['WARN', 'ERROR']],
    [' Error ', ['ERROR']],
  ])('at level %j writes %j', (level, written) => {
    // Prepare
    const { log, lines } = capture(level);

    // Act
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');

    // Assess
    expect(lines.map((line) => line.level)).toEqual(written);
  });

  it('takes its threshold from LOG_LEVEL, INFO when unset, and passes it on to the loggers with() makes', () => {
    // Prepare
    const lines: string[] = [];
    vi.stubEnv('LOG_LEVEL', 'WARN');
    const fromEnv = new Logger('s', {}, undefined, (line) => lines.push(line)).with({ runId: 'r' });
    vi.stubEnv('LOG_LEVEL', undefined as unknown as string);
    const byDefault = new Logger('t', {}, undefined, (line) => lines.push(line));

    // Act
    fromEnv.info('dropped');
    fromEnv.warn('kept');
    byDefault.debug('dropped');
    byDefault.info('kept too');

    // Assess
    expect(lines.map((line) => (JSON.parse(line) as { message: string }).message)).toEqual(['kept', 'kept too']);
  });

  it('falls back to INFO on an unknown level and says so in one WARN line', () => {
    // Prepare + Act
    const { log, lines } = capture('VERBOSE');
    const child = log.with({ runId: 'r' });
    log.debug('dropped');
    log.info('kept');
    child.info('kept too');

    // Assess
    expect(lines.map((line) => [line.level, line.message])).toEqual([
      ['WARN', 'log level "VERBOSE" is not one of DEBUG, INFO, WARN, ERROR: logging at INFO'],
      ['INFO', 'kept'],
      ['INFO', 'kept too'],
    ]);
  });

  it('treats an empty level as unset: INFO, without a warning', () => {
    const { log, lines } = capture('');

    log.debug('dropped');
    log.info('kept');

    expect(lines.map((line) => line.message)).toEqual(['kept']);
  });
});

describe('xrayTraceId', () => {
  it.each([
    [TRACE, '1-5759e988-bd862e3fe1be46a994272793'],
    ['Root=1-5759e988-bd862e3fe1be46a994272793', '1-5759e988-bd862e3fe1be46a994272793'],
    [
      'Parent=53995c3f42cd8ad8; Root=1-67891233-abcdef012345678912345678;Sampled=0',
      '1-67891233-abcdef012345678912345678',
    ],
    ['Parent=53995c3f42cd8ad8;Sampled=1', undefined],
    ['Root=', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('finds the Root of %j: %j', (header, expected) => {
    expect(xrayTraceId(header)).toBe(expected);
  });
});

describe('withLambdaContext', () => {
  it('puts requestId, functionName, coldStart and xrayTraceId on every line of the invocation, of the loggers with() makes too', async () => {
    // Prepare: a step core that only knows its logger
    const { log, lines } = capture();
    const core = async (event: { runId: string }) => {
      log.info('step started');
      await new Promise((resolve) => setTimeout(resolve, 1));
      log.with({ runId: event.runId }).info('job submitted', { jobId: 'driver-1' });
      return 'done';
    };
    const handler = withLambdaContext(log, core, { _X_AMZN_TRACE_ID: TRACE });

    // Act
    const result = await handler({ runId: 'run-1' }, CONTEXT);

    // Assess
    expect(result).toBe('done');
    const invocation = {
      requestId: CONTEXT.awsRequestId,
      functionName: 'qp-submit-job',
      coldStart: true,
      xrayTraceId: '1-5759e988-bd862e3fe1be46a994272793',
    };
    expect(lines).toEqual([
      { timestamp: expect.any(String), level: 'INFO', service: 'submit-job', message: 'step started', ...invocation },
      {
        timestamp: expect.any(String),
        level: 'INFO',
        service: 'submit-job',
        message: 'job submitted',
        ...invocation,
        runId: 'run-1',
        jobId: 'driver-1',
      },
    ]);
  });

  it('says coldStart true on the first invocation only, failed or not', async () => {
    // Prepare
    const { log, lines } = capture();
    let calls = 0;
    const handler = withLambdaContext(
      log,
      async () => {
        calls += 1;
        log.info(`call ${calls}`);
        if (calls === 1) throw new Error('first one fails');
      },
      {},
    );

    // Act
    await expect(handler(undefined, CONTEXT)).rejects.toThrow('first one fails');
    await handler(undefined, CONTEXT);
    await handler(undefined, CONTEXT);

    // Assess
    expect(lines.map((line) => line.coldStart)).toEqual([true, false, false]);
  });

  it('reads the trace header at each invocation, and leaves xrayTraceId out without one', async () => {
    // Prepare
    const { log, lines } = capture();
    const env: Record<string, string | undefined> = {};
    const handler = withLambdaContext(log, async () => log.info('hello'), env);

    // Act
    await handler(undefined, CONTEXT);
    env._X_AMZN_TRACE_ID = 'Root=1-00000002-000000000000000000000002;Sampled=1';
    await handler(undefined, CONTEXT);

    // Assess
    expect(lines[0]).not.toHaveProperty('xrayTraceId');
    expect(lines[1]).toMatchObject({ xrayTraceId: '1-00000002-000000000000000000000002' });
  });

  it('reads _X_AMZN_TRACE_ID from the process environment by default', async () => {
    // Prepare
    vi.stubEnv('_X_AMZN_TRACE_ID', TRACE);
    const { log, lines } = capture();

    // Act
    await withLambdaContext(log, async () => log.info('hello'))(undefined, CONTEXT);

    // Assess
    expect(lines[0]).toMatchObject({ xrayTraceId: '1-5759e988-bd862e3fe1be46a994272793' });
  });

  it.each([
    ['no context', undefined],
    ['an empty context', {}],
    ['a context without ids', { getRemainingTimeInMillis: () => 1000 }],
  ])('works with %s: the lines carry coldStart but no request id or function name', async (_name, context) => {
    // Prepare
    const { log, lines } = capture();
    const seen: unknown[] = [];
    const handler = withLambdaContext(
      log,
      async (event: unknown, given: unknown) => {
        seen.push(event, given);
        log.info('hello');
        return 42;
      },
      {},
    );

    // Act
    const result = await handler({ n: 1 }, context);

    // Assess
    expect(result).toBe(42);
    expect(seen).toEqual([{ n: 1 }, context]);
    expect(lines).toEqual([
      { timestamp: expect.any(String), level: 'INFO', service: 'submit-job', message: 'hello', coldStart: true },
    ]);
  });

  it('keeps the fields to the invocation: a line written after it, or by an unrelated logger, carries none', async () => {
    // Prepare
    const { log, lines } = capture();
    const other = capture('INFO', 'other');
    const handler = withLambdaContext(
      log,
      async () => {
        other.log.info("not the handler's logger");
      },
      {},
    );

    // Act
    await handler(undefined, CONTEXT);
    log.info('after the invocation');

    // Assess
    expect(other.lines[0]).not.toHaveProperty('requestId');
    expect(lines[0]).not.toHaveProperty('requestId');
    expect(lines[0]).not.toHaveProperty('coldStart');
  });

  it("keeps each invocation's ids on its own lines when invocations overlap (the local runner runs several at once)", async () => {
    // Prepare
    const { log, lines } = capture();
    const handler = withLambdaContext(
      log,
      async (event: { wait: number }) => {
        const child = log.with({ wait: event.wait });
        child.info('started');
        await new Promise((resolve) => setTimeout(resolve, event.wait));
        child.info('ended');
      },
      {},
    );

    // Act
    await Promise.all([
      handler({ wait: 20 }, { awsRequestId: 'slow', functionName: 'f' }),
      handler({ wait: 1 }, { awsRequestId: 'fast', functionName: 'f' }),
    ]);

    // Assess
    expect(lines.map((line) => [line.message, line.wait, line.requestId])).toEqual([
      ['started', 20, 'slow'],
      ['started', 1, 'fast'],
      ['ended', 1, 'fast'],
      ['ended', 20, 'slow'],
    ]);
  });
});
