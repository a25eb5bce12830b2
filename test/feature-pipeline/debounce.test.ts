/** The debounce step: one execution per quiet window, whatever the number of object events. */
import { ExecutionAlreadyExists, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { Logger } from '../../lambdas/core/logger';
import type { DebounceInput } from '../../lambdas/feature-pipeline/contract';
import {
  createDebounceObjects,
  type DebounceStarter,
  executionNameOf,
  parseQuietSeconds,
  quietWindow,
  type StartOutcome,
  stepFunctionsStarter,
} from '../../lambdas/feature-pipeline/steps/debounce';

const quiet = new Logger('test', {}, 'ERROR', () => undefined);
const T0 = Date.parse('2026-12-01T10:27:41.500Z');

function objectEvent(key: string) {
  return {
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: { bucket: { name: 'raw-results' }, object: { key } },
  };
}

/** Step Functions' rule on names: a seen name is refused once ended, accepted again while running with the same input. */
class FakeStepFunctions implements DebounceStarter {
  readonly calls: Array<{ name: string; input: DebounceInput }> = [];
  readonly ended = new Set<string>();
  readonly started = new Set<string>();
  async start(name: string, input: DebounceInput): Promise<StartOutcome> {
    this.calls.push({ name, input });
    if (this.ended.has(name)) return 'closed';
    this.started.add(name);
    return 'started';
  }
}

describe('quiet windows', () => {
  it('aligns a window to multiples of its length and names the execution after its start', () => {
    // Act
    const window = quietWindow(T0, 600);

    // Assess
    expect(window).toEqual({ start: '2026-12-01T10:20:00Z', end: '2026-12-01T10:30:00Z' });
    expect(executionNameOf(window)).toBe('objects-20261201T102000Z');
    expect(executionNameOf(window)).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
  });

  it('refuses a window length that is not a whole number of seconds >= 1, naming the variable', () => {
    expect(parseQuietSeconds('600', 'QUIET_SECONDS')).toBe(600);
    for (const bad of [undefined, '', '0', '1.5', 'ten']) {
      expect(() => parseQuietSeconds(bad, 'QUIET_SECONDS')).toThrow(/QUIET_SECONDS: expected a whole number/);
    }
  });
});

describe('debounce-objects', () => {
  it('starts one execution for 200 events of one window, and one more in the next window', async () => {
    // Prepare
    const sfn = new FakeStepFunctions();
    let now = T0;
    const debounce = createDebounceObjects({ starter: sfn, quietSeconds: 600, now: () => now, log: quiet });

    // Act
    const results = [];
    for (let i = 0; i < 200; i += 1) {
      now = T0 + i * 500; // 100 s of arrivals, all before 10:30:00
      results.push(await debounce(objectEvent(`experiments/experiment.vqe/${i}.json`)));
    }
    now = Date.parse('2026-12-01T10:31:00Z');
    const next = await debounce(objectEvent('experiments/experiment.vqe/late.json'));

    // Assess
    expect(sfn.calls.map((c) => c.name)).toEqual(['objects-20261201T102000Z', 'objects-20261201T103000Z']);
    expect(sfn.calls[0].input).toEqual({ window: { start: '2026-12-01T10:20:00Z', end: '2026-12-01T10:30:00Z' } });
    expect(new Set(results.map((r) => r.execution))).toEqual(new Set(['objects-20261201T102000Z']));
    expect(results.filter((r) => r.outcome === 'started')).toHaveLength(1);
    expect(next).toMatchObject({ execution: 'objects-20261201T103000Z', outcome: 'started' });
  });

  it('asks again in every instance: a second function instance meets the running execution and adds none', async () => {
    // Prepare: two instances of the function (Lambda scales out), one Step Functions
    const sfn = new FakeStepFunctions();
    const a = createDebounceObjects({ starter: sfn, quietSeconds: 600, now: () => T0, log: quiet });
    const b = createDebounceObjects({ starter: sfn, quietSeconds: 600, now: () => T0, log: quiet });

    // Act
    await a(objectEvent('experiments/a.json'));
    await b(objectEvent('experiments/b.json'));

    // Assess: both asked for the same name, so Step Functions holds one execution
    expect(sfn.calls.map((c) => c.name)).toEqual(['objects-20261201T102000Z', 'objects-20261201T102000Z']);
    expect(sfn.started.size).toBe(1);
  });

  it("moves an object whose window's execution has already ended to the next window", async () => {
    // Prepare: this clock is behind: the 10:20 window already ran
    const sfn = new FakeStepFunctions();
    sfn.ended.add('objects-20261201T102000Z');
    const debounce = createDebounceObjects({ starter: sfn, quietSeconds: 600, now: () => T0, log: quiet });

    // Act
    const result = await debounce(objectEvent('experiments/x.json'));

    // Assess
    expect(result).toMatchObject({ execution: 'objects-20261201T103000Z', outcome: 'started' });
    expect(result.window).toEqual({ start: '2026-12-01T10:30:00Z', end: '2026-12-01T10:40:00Z' });
  });

  it('refuses an event that is not an S3 Object Created event, naming the field', async () => {
    // Prepare
    const debounce = createDebounceObjects({ starter: new FakeStepFunctions(), quietSeconds: 60, log: quiet });

    // Act + Assess
    await expect(
      debounce({ source: 'aws.s3', 'detail-type': 'Object Created', detail: { bucket: { name: 'raw' } } }),
    ).rejects.toThrow(/detail\.object/);
    await expect(debounce({ ...objectEvent('k'), source: 'aws.sqs' })).rejects.toThrow(/source/);
  });
});

describe('stepFunctionsStarter', () => {
  it('starts the named execution with the window as input; ExecutionAlreadyExists means the window is closed', async () => {
    // Prepare
    const sfn = mockClient(SFNClient);
    sfn
      .on(StartExecutionCommand)
      .resolvesOnce({ executionArn: 'arn:exec', startDate: new Date() })
      .rejectsOnce(new ExecutionAlreadyExists({ message: 'exists', $metadata: {} }))
      .rejectsOnce(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }));
    const starter = stepFunctionsStarter(new SFNClient({}), 'arn:sm');
    const input = { window: { start: '2026-12-01T10:20:00Z', end: '2026-12-01T10:30:00Z' } };

    // Act + Assess
    await expect(starter.start('objects-20261201T102000Z', input)).resolves.toBe('started');
    expect(sfn.commandCalls(StartExecutionCommand)[0].args[0].input).toEqual({
      stateMachineArn: 'arn:sm',
      name: 'objects-20261201T102000Z',
      input: JSON.stringify(input),
    });
    await expect(starter.start('objects-20261201T102000Z', input)).resolves.toBe('closed');
    await expect(starter.start('objects-20261201T102000Z', input)).rejects.toThrow(/Rate exceeded/);
    sfn.restore();
  });
});
