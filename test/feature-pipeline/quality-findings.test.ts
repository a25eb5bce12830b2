/**
 * Data-quality findings -> "Data Quality Finding" events: the PutEvents requests (against the real
 * EventBridgeClient, answered by aws-sdk-client-mock with PutEvents' own response shape), their
 * size, partial failures, and read-summary publishing the findings of the summary it reads.
 */
import { EventBridgeClient, PutEventsCommand, type PutEventsRequestEntry } from '@aws-sdk/client-eventbridge';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../lambdas/core/errors';
import { Logger } from '../../lambdas/core/logger';
import {
  type DataQualityFinding,
  FINDING_EVENT_DETAIL_TYPE,
  FindingEventDetail,
  type RunSummary,
  SUMMARY_EVENT_SOURCE,
} from '../../lambdas/feature-pipeline/contract';
import {
  createFindingsPublisher,
  ENTRY_BUDGET_BYTES,
  entrySize,
  FindingsPublishError,
  findingEntry,
  offendingText,
  PUT_EVENTS_LIMIT_BYTES,
} from '../../lambdas/feature-pipeline/quality-findings';
import { findingsPublisherFromEnv } from '../../lambdas/feature-pipeline/settings';
import { createReadSummary } from '../../lambdas/feature-pipeline/steps/read-summary';
import { pipelineSettings } from './fixtures';

const quiet = new Logger('test', {}, 'ERROR', () => undefined);
const BUS = 'qp-test-events';
const SOURCE = { kind: 'features', runId: 'run-1', summaryUri: 's3://features/pipeline-runs/x/run-1.json' } as const;
const eventBridge = mockClient(EventBridgeClient);

function finding(gate: string, overrides: Partial<DataQualityFinding> = {}): DataQualityFinding {
  return {
    gate,
    severity: 'warning',
    message: `${gate} fired`,
    offending: ['a', 'b'],
    offending_total: 2,
    ...overrides,
  };
}

function summaryWith(findings: DataQualityFinding[] | undefined): RunSummary {
  return {
    job: 'feature_processing',
    run_id: 'run-1',
    batch_id: 'b-1',
    status: 'succeeded',
    started_at: 's',
    finished_at: 'f',
    duration_seconds: 1,
    resumed_batch: false,
    new_rows: {},
    tags: {},
    files: {},
    quarantined: [],
    quarantined_total: 0,
    details: {},
    ...(findings ? { findings } : {}),
  };
}

/** Answers as PutEvents does: one result per entry, in order, and the count of failed ones. */
function answer(failures: (string | undefined)[]) {
  return {
    FailedEntryCount: failures.filter(Boolean).length,
    Entries: failures.map((code, i) =>
      code ? { ErrorCode: code, ErrorMessage: `${code} on entry ${i}` } : { EventId: `event-${i}` },
    ),
  };
}

function sentEntries(): PutEventsRequestEntry[][] {
  return eventBridge.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries ?? []);
}

const publisher = () =>
  createFindingsPublisher({ client: new EventBridgeClient({ region: 'eu-west-1' }), busName: BUS, log: quiet });

beforeEach(() => eventBridge.reset());
afterAll(() => eventBridge.restore());

describe('findings publisher', () => {
  it('puts one event per finding on the bus, with the contract detail', async () => {
    // Prepare
    eventBridge.on(PutEventsCommand).callsFake((input) => answer(input.Entries.map(() => undefined)));
    const summary = summaryWith([finding('quarantined_files'), finding('energy_below_exact', { severity: 'error' })]);

    // Act
    const count = await publisher().publish(summary, SOURCE);

    // Assess
    expect(count).toBe(2);
    const [entries] = sentEntries();
    expect(entries.map((e) => [e.EventBusName, e.Source, e.DetailType])).toEqual([
      [BUS, SUMMARY_EVENT_SOURCE, FINDING_EVENT_DETAIL_TYPE],
      [BUS, SUMMARY_EVENT_SOURCE, FINDING_EVENT_DETAIL_TYPE],
    ]);
    const details = entries.map((e) => FindingEventDetail.strict().parse(JSON.parse(e.Detail ?? '')));
    expect(details[1]).toEqual({
      runId: 'run-1',
      job: 'features',
      batchId: 'b-1',
      gate: 'energy_below_exact',
      severity: 'error',
      message: 'energy_below_exact fired',
      offending: ['a', 'b'],
      offendingTotal: 2,
      offendingText: 'a, b',
      summaryUri: SOURCE.summaryUri,
    });
  });

  it('stays quiet on a clean summary, and on one written before the gates existed', async () => {
    // Act
    const counts = [
      await publisher().publish(summaryWith([]), SOURCE),
      await publisher().publish(summaryWith(undefined), SOURCE),
    ];

    // Assess
    expect(counts).toEqual([0, 0]);
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(0);
  });

  it('sends at most 10 entries per request, each request under the PutEvents size limit', async () => {
    // Prepare
    eventBridge.on(PutEventsCommand).callsFake((input) => answer(input.Entries.map(() => undefined)));
    const many = Array.from({ length: 23 }, (_, i) => finding(`gate-${i}`, { message: 'x'.repeat(20_000) }));

    // Act
    await publisher().publish(summaryWith(many), SOURCE);

    // Assess
    const requests = sentEntries();
    expect(requests.map((r) => r.length)).toEqual([10, 10, 3]);
    for (const request of requests) {
      expect(request.reduce((sum, e) => sum + entrySize(e), 0)).toBeLessThan(PUT_EVENTS_LIMIT_BYTES);
    }
  });

  it('keeps a huge finding under its budget: offending ids dropped first, then the texts cut', () => {
    // Prepare
    const ids = Array.from({ length: 20 }, (_, i) => `experiments/${i}/${'k'.repeat(5000)}`);
    const wide = finding('quarantined_files', {
      offending: ids,
      offending_total: 900,
      message: '"quoted" '.repeat(20_000),
    });
    const detail = { ...FindingEventDetail.parse({ ...baseDetail(), ...{ offending: ids, message: wide.message } }) };

    // Act
    const entry = findingEntry(detail, BUS);

    // Assess
    const sent = JSON.parse(entry.Detail ?? '') as FindingEventDetail;
    expect(entrySize(entry)).toBeLessThanOrEqual(ENTRY_BUDGET_BYTES);
    expect(sent.offending.length).toBeLessThan(ids.length);
    expect(sent.offendingTotal).toBe(900);
    expect(sent.message.endsWith('…')).toBe(true);
  });

  it('sends again the entries PutEvents reported failed, and only those', async () => {
    // Prepare
    eventBridge
      .on(PutEventsCommand)
      .resolvesOnce(answer([undefined, 'ThrottlingException', undefined]))
      .resolves(answer([undefined]));
    const summary = summaryWith([finding('g1'), finding('g2'), finding('g3')]);

    // Act
    await publisher().publish(summary, SOURCE);

    // Assess
    const gates = sentEntries().map((entries) => entries.map((e) => JSON.parse(e.Detail ?? '').gate));
    expect(gates).toEqual([['g1', 'g2', 'g3'], ['g2']]);
  });

  it('fails naming the findings and the error when an entry keeps failing', async () => {
    // Prepare
    eventBridge
      .on(PutEventsCommand)
      .callsFake((input) =>
        answer(
          input.Entries.map((e: PutEventsRequestEntry) =>
            e.Detail?.includes('dropped_rows') ? 'InternalFailure' : undefined,
          ),
        ),
      );

    // Act
    const publishing = publisher().publish(summaryWith([finding('g1'), finding('dropped_rows')]), SOURCE);

    // Assess
    await expect(publishing).rejects.toThrow(FindingsPublishError);
    await expect(publishing).rejects.toThrow(
      /1 data-quality finding\(s\) \(dropped_rows\) could not be put on event bus qp-test-events after 3 attempts: InternalFailure/,
    );
    expect(eventBridge.commandCalls(PutEventsCommand)).toHaveLength(3);
  });

  it('names a few offending ids and counts the rest', () => {
    expect(offendingText(['a', 'b', 'c', 'd', 'e', 'f'], 130)).toBe('a, b, c, d, e (and 125 more)');
    expect(offendingText(['a'], 1)).toBe('a');
    expect(offendingText([], 0)).toBe('none named');
  });
});

describe('findings publisher settings', () => {
  it('publishes to EVENT_BUS_NAME, refuses a malformed name by value, and is absent without it', () => {
    expect(findingsPublisherFromEnv({ EVENT_BUS_NAME: 'qp-events' }, quiet)).toBeDefined();
    expect(findingsPublisherFromEnv({}, quiet)).toBeUndefined();
    expect(() => findingsPublisherFromEnv({ EVENT_BUS_NAME: 'no spaces' }, quiet)).toThrow(ConfigurationError);
    expect(() => findingsPublisherFromEnv({ EVENT_BUS_NAME: 'no spaces' }, quiet)).toThrow(
      'environment variable EVENT_BUS_NAME="no spaces": expected an event bus name or ARN',
    );
  });
});

describe('read-summary with findings', () => {
  const s3 = mockClient(S3Client);
  afterAll(() => s3.restore());

  it('publishes the findings of the summary it read, under the job and run it read it for', async () => {
    // Prepare
    s3.on(GetObjectCommand).resolves({
      Body: { transformToString: async () => JSON.stringify(summaryWith([finding('quarantined_files')])) },
    } as never);
    const published: unknown[] = [];
    const read = createReadSummary({
      s3: new S3Client({ region: 'garage' }),
      settings: pipelineSettings,
      log: quiet,
      findings: {
        publish: async (summary, source) => published.push({ gates: summary.findings?.map((f) => f.gate), source }),
      },
    });
    const job = {
      backend: 'standalone',
      jobId: 'driver-1',
      kind: 'features',
      runId: 'run-1',
      submittedAt: 't',
      timeoutSeconds: 60,
    };

    // Act
    await read({ job });

    // Assess
    expect(published).toEqual([
      {
        gates: ['quarantined_files'],
        source: {
          kind: 'features',
          runId: 'run-1',
          summaryUri: expect.stringMatching(/feature_processing\/run-1\.json$/),
        },
      },
    ]);
  });
});

function baseDetail(): FindingEventDetail {
  return {
    runId: 'run-1',
    job: 'features',
    batchId: 'b-1',
    gate: 'quarantined_files',
    severity: 'warning',
    message: 'm',
    offending: [],
    offendingTotal: 900,
    offendingText: '',
    summaryUri: SOURCE.summaryUri,
  };
}
