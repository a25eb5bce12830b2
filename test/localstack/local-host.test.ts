import { describe, expect, it } from 'vitest';
import { Logger, withLambdaContext } from '../../lambdas/core/logger';
import type { AslDefinition } from '../../localstack/embedded/definition';
import {
  type ExecutionStatusChange,
  LocalStateMachineHost,
  type PutEventsEntry,
} from '../../localstack/embedded/local-host';

const FN = 'arn:aws:lambda:us-east-1:000000000000:function:EchoFn';
const MACHINE = 'arn:aws:states:us-east-1:000000000000:stateMachine:Machine';

/** Invoke (optimized integration) -> PutEvents, the two task kinds the pipeline uses. */
const definition: AslDefinition = {
  StartAt: 'Echo',
  States: {
    Echo: {
      Type: 'Task',
      Resource: 'arn:aws:states:::lambda:invoke',
      Parameters: { FunctionName: FN, 'Payload.$': '$' },
      ResultSelector: { 'echo.$': '$.Payload' },
      Next: 'Publish',
    },
    Publish: {
      Type: 'Task',
      Resource: 'arn:aws:states:::events:putEvents',
      Parameters: { Entries: [{ Source: 'test', DetailType: 'Done', 'Detail.$': '$.echo' }] },
      End: true,
    },
  },
};

class DeniedError extends Error {
  override readonly name = 'DeniedError';
}

function host(handler: (event: unknown) => Promise<unknown>) {
  const published: PutEventsEntry[] = [];
  const ended: ExecutionStatusChange[] = [];
  const instance = new LocalStateMachineHost({
    definition,
    stateMachineName: 'Machine',
    stateMachineArn: MACHINE,
    lambdaHandlers: { EchoFn: async (event) => handler(event) },
    eventBus: (entries) => void published.push(...entries),
    onExecutionEnd: (change) => void ended.push(change),
  });
  return { instance, published, ended };
}

describe('LocalStateMachineHost', () => {
  it('passes the payload to the handler and its result back through the invoke envelope', async () => {
    const { instance, published, ended } = host(async (event) => ({ got: event }));

    const output = await instance.start({ n: 1 }, 'run-1').result;

    expect(output).toEqual({ Entries: [{ EventId: expect.any(String) }], FailedEntryCount: 0 });
    expect(published).toEqual([{ Source: 'test', DetailType: 'Done', Detail: { got: { n: 1 } } }]);
    expect(ended.map((e) => [e.name, e.status, e.stateMachineArn])).toEqual([['run-1', 'SUCCEEDED', MACHINE]]);
  });

  it('lists an execution as running until it ends', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { instance } = host(async () => gate.then(() => ({})));

    const execution = instance.start({}, 'run-2');
    const whileRunning = instance.listRunning(MACHINE).map((e) => e.executionArn);
    release();
    await execution.result;

    expect(whileRunning).toEqual([execution.executionArn]);
    expect(instance.listRunning(MACHINE)).toEqual([]);
    expect(instance.listRunning(`${MACHINE}-other`)).toEqual([]);
  });

  it('fails the execution with the handler error name and reports FAILED', async () => {
    const { instance, ended } = host(async () => {
      throw new DeniedError('no entry');
    });

    const failure = await instance.start({}, 'run-3').result.catch((error: Error) => error);

    expect((failure as Error & { cause: Error }).cause.name).toBe('DeniedError');
    expect(ended[0]).toMatchObject({ status: 'FAILED', error: 'DeniedError', cause: 'no entry' });
  });

  it("gives a handler wrapped in withLambdaContext its invocation's ids, each execution its own when they overlap", async () => {
    // Prepare
    const lines: Array<Record<string, unknown>> = [];
    const log = new Logger('echo', {}, 'INFO', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const instance = new LocalStateMachineHost({
      definition,
      stateMachineName: 'Machine',
      stateMachineArn: MACHINE,
      lambdaHandlers: {
        EchoFn: withLambdaContext(
          log,
          async (event: unknown) => {
            const { wait } = event as { wait: number };
            await new Promise((resolve) => setTimeout(resolve, wait));
            log.info('echoed', { wait });
            return event;
          },
          {},
        ),
      },
      eventBus: () => undefined,
    });

    // Act
    await Promise.all([instance.start({ wait: 30 }, 'slow-1').result, instance.start({ wait: 1 }, 'fast-1').result]);

    // Assess
    expect(
      lines.map((line) => [
        line.wait,
        line.functionName,
        typeof line.requestId === 'string' && line.requestId.split('-')[0],
      ]),
    ).toEqual([
      [1, 'EchoFn', 'fast'],
      [30, 'EchoFn', 'slow'],
    ]);
    expect(lines.map((line) => line.coldStart).sort()).toEqual([false, true]);
  });

  it('refuses an execution name Step Functions would refuse', () => {
    const { instance } = host(async () => ({}));

    expect(() => instance.start({}, 'has space')).toThrow(/execution name "has space"/);
  });
});
