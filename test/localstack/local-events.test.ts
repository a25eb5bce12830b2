import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CfnTemplate } from '../../localstack/embedded/definition';
import {
  busNameOf,
  hostBusBindings,
  LocalEventBridge,
  matchesPattern,
  transformInput,
} from '../../localstack/embedded/local-events';

const failureRule = {
  Type: 'AWS::Events::Rule',
  Properties: {
    EventPattern: {
      source: ['aws.states'],
      'detail-type': ['Step Functions Execution Status Change'],
      detail: { status: ['FAILED', 'TIMED_OUT', 'ABORTED'], stateMachineArn: [{ Ref: 'Machine' }] },
    },
    State: 'ENABLED',
    Targets: [
      {
        Arn: { Ref: 'Alerts' },
        InputTransformer: {
          InputPathsMap: { name: '$.detail.name', status: '$.detail.status' },
          InputTemplate: '"Execution <name> ended <status>"',
        },
      },
    ],
  },
};
const template: CfnTemplate = {
  Resources: {
    Machine: { Type: 'AWS::StepFunctions::StateMachine', Properties: {} },
    Alerts: { Type: 'AWS::SNS::Topic', Properties: {} },
    FailureRule: failureRule as never,
  },
};
const machineArn = 'arn:aws:states:us-east-1:000000000000:stateMachine:Machine';

function statusChange(status: string, stateMachineArn = machineArn) {
  return {
    source: 'aws.states',
    'detail-type': 'Step Functions Execution Status Change',
    detail: { status, stateMachineArn, name: 'run-1' },
  };
}

describe('matchesPattern', () => {
  it('matches listed values, nested objects and prefixes', () => {
    expect(matchesPattern({ a: ['x', 'y'], b: { c: [1] } }, { a: 'y', b: { c: 1 } })).toBe(true);
    expect(matchesPattern({ a: ['x'] }, { a: 'z' })).toBe(false);
    expect(matchesPattern({ b: { c: [1] } }, { b: {} })).toBe(false);
    expect(matchesPattern({ a: [{ prefix: 'arn:' }] }, { a: 'arn:aws' })).toBe(true);
  });

  it('refuses operators it does not implement instead of guessing', () => {
    expect(() => matchesPattern({ a: [{ 'anything-but': 'x' }] }, { a: 'y' })).toThrow(/not supported/);
  });
});

describe('transformInput', () => {
  it('fills placeholders from the paths map and leaves unknown ones alone', () => {
    const text = transformInput(
      { detail: { n: 3, s: 'ok' } },
      { n: '$.detail.n', s: '$.detail.s' },
      '<s>: <n> <other>',
    );

    expect(text).toBe('ok: 3 <other>');
  });
});

describe('LocalEventBridge', () => {
  it("delivers the rule's transformed message for a failed execution of its state machine", () => {
    const log = join(mkdtempSync(join(tmpdir(), 'bus-')), 'events.jsonl');
    const bus = new LocalEventBridge(template, log);

    const delivered = bus.put(statusChange('FAILED'));

    expect(delivered).toEqual([{ rule: 'FailureRule', topic: 'Alerts', message: '"Execution run-1 ended FAILED"' }]);
    expect(readFileSync(log, 'utf8').trim().split('\n')).toHaveLength(2); // the event and the delivery
  });

  it('delivers nothing for a success or for another state machine', () => {
    const bus = new LocalEventBridge(template);

    expect(bus.put(statusChange('SUCCEEDED'))).toEqual([]);
    expect(bus.put(statusChange('FAILED', `${machineArn}Other`))).toEqual([]);
    expect(bus.events).toHaveLength(2);
  });

  it("routes an event put on a custom bus to that bus's rules only, matching the local account", () => {
    // Prepare: the same pattern on the pipeline's bus and on the default bus
    const ownEvent = (bus?: unknown) => ({
      Type: 'AWS::Events::Rule',
      Properties: {
        ...(bus ? { EventBusName: bus } : {}),
        EventPattern: { source: ['qp'], 'detail-type': ['Done'], account: [{ Ref: 'AWS::AccountId' }] },
        State: 'ENABLED',
        Targets: [{ Arn: { Ref: 'Alerts' }, Input: '"done"' }],
      },
    });
    const withBus: CfnTemplate = {
      Resources: {
        Alerts: { Type: 'AWS::SNS::Topic', Properties: {} },
        Bus: { Type: 'AWS::Events::EventBus', Properties: {} },
        OnBus: ownEvent({ Ref: 'Bus' }) as never,
        OnDefault: ownEvent() as never,
      },
    };
    const bus = new LocalEventBridge(withBus);
    const done = { Source: 'qp', DetailType: 'Done', Detail: '{}' };

    // Act: as a PutEvents task names the bus (by ARN), then without a bus
    hostBusBindings(bus).eventBus([
      { ...done, EventBusName: 'arn:aws:events:us-east-1:000000000000:event-bus/Bus' },
      done,
    ]);

    // Assess
    expect(bus.deliveries.map((delivery) => delivery.rule)).toEqual(['OnBus', 'OnDefault']);
  });

  it('names a bus by its name, whether given a name, an ARN or nothing', () => {
    expect(busNameOf(undefined)).toBe('default');
    expect(busNameOf('pipeline')).toBe('pipeline');
    expect(busNameOf('arn:aws:events:eu-west-1:123456789012:event-bus/pipeline')).toBe('pipeline');
  });
});

describe('LocalEventBridge, Lambda targets', () => {
  const objectRule = {
    Type: 'AWS::Events::Rule',
    Properties: {
      EventPattern: {
        source: ['aws.s3'],
        'detail-type': ['Object Created'],
        detail: { bucket: { name: [{ Ref: 'Raw' }] }, object: { key: [{ prefix: 'experiments/' }] } },
      },
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': ['Debounce', 'Arn'] }, Id: 'Target0' }],
    },
  };
  const withFunction: CfnTemplate = {
    Resources: {
      Raw: { Type: 'AWS::S3::Bucket', Properties: { BucketName: 'raw-results' } },
      Debounce: { Type: 'AWS::Lambda::Function', Properties: {} },
      OnObject: objectRule as never,
    },
  };
  const created = (key: string, bucket = 'raw-results') => ({
    source: 'aws.s3',
    'detail-type': 'Object Created',
    detail: { bucket: { name: bucket }, object: { key } },
  });

  it("invokes a matching rule's function with the whole event, without waiting for it; settled() waits", async () => {
    // Prepare
    const bus = new LocalEventBridge(withFunction);
    const received: unknown[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    bus.connectFunction('Debounce', async (event) => {
      await gate;
      received.push(event);
    });

    // Act: the bucket's name and the key's prefix decide
    bus.put(created('experiments/experiment.vqe/1.json'));
    bus.put(created('quarantine/1.json'));
    bus.put(created('experiments/2.json', 'features'));
    const beforeSettled = received.length;
    release();
    await bus.settled();

    // Assess
    expect(beforeSettled).toBe(0);
    expect(received).toEqual([
      expect.objectContaining({
        ...created('experiments/experiment.vqe/1.json'),
        account: '000000000000',
        time: expect.any(String),
      }),
    ]);
  });

  it('records a failed invocation instead of failing the put, as an asynchronous invocation fails', async () => {
    // Prepare
    const bus = new LocalEventBridge(withFunction);
    bus.connectFunction('Debounce', async () => {
      throw new TypeError('boom');
    });

    // Act
    bus.put(created('experiments/1.json'));
    await bus.settled();

    // Assess
    expect(bus.failedInvocations).toEqual([{ rule: 'OnObject', function: 'Debounce', error: 'TypeError: boom' }]);
  });
});
