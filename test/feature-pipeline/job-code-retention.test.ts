/** Which job code versions a deploy keeps: the running one, then the newest others, N in all. */
import { describe, expect, it } from 'vitest';
import { onEvent } from '../../lambdas/feature-pipeline/handlers/prune-job-code';
import { type VersionFolder, versionsToPrune } from '../../lambdas/feature-pipeline/job-code-retention';

const v = (n: number) => n.toString(16).padStart(16, '0');
const folder = (n: number, day: number): VersionFolder => ({
  version: v(n),
  deployedAt: new Date(Date.UTC(2026, 11, day)),
  keys: [`spark-jobs/${v(n)}/build.json`],
});

describe('versionsToPrune', () => {
  it('keeps the current version and the newest others, N in all, and prunes the rest', () => {
    const folders = [folder(1, 1), folder(2, 2), folder(3, 3), folder(4, 4), folder(5, 5)];

    expect(versionsToPrune(folders, 3, v(5))).toEqual([v(2), v(1)]);
  });

  it('keeps a rolled-back current version even when it is the oldest', () => {
    const folders = [folder(1, 1), folder(2, 2), folder(3, 3), folder(4, 4)];

    expect(versionsToPrune(folders, 2, v(1))).toEqual([v(3), v(2)]);
  });

  it('prunes nothing while there are no more versions than it keeps', () => {
    expect(versionsToPrune([folder(1, 1), folder(2, 2)], 5, v(2))).toEqual([]);
  });

  it('keeps only the current version when N is 1', () => {
    expect(versionsToPrune([folder(1, 1), folder(2, 2)], 1, v(1))).toEqual([v(2)]);
  });
});

describe('prune-job-code handler', () => {
  it('refuses properties that are not a retention request, naming the field and the value', async () => {
    const event = {
      RequestType: 'Create',
      ResourceProperties: { Bucket: 'artifacts', Prefix: 'spark-jobs/', Keep: '0', CurrentVersion: 'latest' },
    };

    await expect(onEvent(event)).rejects.toThrow(/keep.*0|current.*latest/s);
  });

  it('keeps everything when the resource is deleted', async () => {
    const event = {
      RequestType: 'Delete',
      PhysicalResourceId: 'job-code-retention:artifacts/spark-jobs/',
      ResourceProperties: { Bucket: 'artifacts', Prefix: 'spark-jobs/', Keep: '5', CurrentVersion: v(1) },
    };

    // No S3 client is reachable here: a Delete that tried to list or delete would throw.
    await expect(onEvent(event, undefined as never)).resolves.toEqual({
      PhysicalResourceId: 'job-code-retention:artifacts/spark-jobs/',
    });
  });
});
