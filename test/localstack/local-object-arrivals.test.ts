/** The local stand-in of S3's EventBridge notifications: one "Object Created" per new key, none for what was there. */
import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import type { CfnTemplate } from '../../localstack/embedded/definition';
import { LocalEventBridge } from '../../localstack/embedded/local-events';
import { LocalS3Notifications } from '../../localstack/embedded/local-object-arrivals';

/** A bucket listing that pages like S3 (two keys a page) over keys the test changes. */
function fakeBucket(keys: string[]): S3Client {
  const client = new S3Client({ region: 'garage' });
  mockClient(client)
    .on(ListObjectsV2Command)
    .callsFake((input: { Prefix?: string; ContinuationToken?: string }) => {
      const matching = keys.filter((k) => k.startsWith(input.Prefix ?? ''));
      const from = Number(input.ContinuationToken ?? 0);
      const page = matching.slice(from, from + 2);
      const more = from + 2 < matching.length;
      return {
        Contents: page.map((Key) => ({ Key, Size: 10, ETag: '"abc"' })),
        IsTruncated: more,
        NextContinuationToken: more ? String(from + 2) : undefined,
      };
    });
  return client;
}

const emptyTemplate: CfnTemplate = { Resources: {} };

describe('LocalS3Notifications', () => {
  it('announces each key created after it started once, under its prefix only, in the shape S3 uses', async () => {
    // Prepare
    const keys = ['experiments/old-1.json', 'experiments/old-2.json', 'experiments/old-3.json'];
    const bus = new LocalEventBridge(emptyTemplate);
    const notifications = new LocalS3Notifications({
      s3: fakeBucket(keys),
      bus,
      bucket: 'raw-results',
      prefix: 'experiments/',
    });

    // Act
    const primed = await notifications.prime();
    keys.push('experiments/new-1.json', 'experiments/new-2.json', 'features/other.json');
    const first = await notifications.poll();
    const second = await notifications.poll();

    // Assess
    expect(primed).toBe(3);
    expect([first, second]).toEqual([2, 0]);
    expect(bus.events.map((e) => (e.detail as { object: { key: string } }).object.key)).toEqual([
      'experiments/new-1.json',
      'experiments/new-2.json',
    ]);
    expect(bus.events[0]).toMatchObject({
      source: 'aws.s3',
      'detail-type': 'Object Created',
      resources: ['arn:aws:s3:::raw-results'],
      detail: { bucket: { name: 'raw-results' }, object: { key: 'experiments/new-1.json', size: 10, etag: 'abc' } },
    });
  });

  it('loses the events it is told to drop, for good', async () => {
    // Prepare
    const keys: string[] = [];
    const bus = new LocalEventBridge(emptyTemplate);
    const notifications = new LocalS3Notifications({
      s3: fakeBucket(keys),
      bus,
      bucket: 'raw-results',
      prefix: 'experiments/',
      drop: (key) => key.endsWith('lost.json'),
    });
    await notifications.prime();

    // Act
    keys.push('experiments/lost.json', 'experiments/kept.json');
    await notifications.poll();
    await notifications.poll();

    // Assess
    expect(notifications.dropped).toEqual(['experiments/lost.json']);
    expect(bus.events).toHaveLength(1);
  });
});
