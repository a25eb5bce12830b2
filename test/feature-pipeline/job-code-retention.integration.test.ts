/**
 * Job code retention against the real local store (Garage): version folders deployed one after
 * another, then a deploy-time prune through the custom resource handler keeps the last N.
 */
import { randomBytes } from 'node:crypto';
import { DeleteObjectsCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it } from 'vitest';
import { onEvent } from '../../lambdas/feature-pipeline/handlers/prune-job-code';

const s3 = new S3Client({
  endpoint: process.env.QP_S3_ENDPOINT,
  region: process.env.QP_S3_REGION,
  forcePathStyle: true,
});
const bucket = 'artifacts';
const prefix = `retention-test-${randomBytes(4).toString('hex')}/spark-jobs/`;
const v = (n: number) => `${'a'.repeat(15)}${n}`;

async function keysUnder(p: string): Promise<string[]> {
  const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: p }));
  return (page.Contents ?? []).map((o) => o.Key as string).sort();
}

afterAll(async () => {
  const keys = await keysUnder(prefix.split('/')[0]);
  if (keys.length)
    await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys.map((Key) => ({ Key })) } }));
});

describe('job code retention on the real store', () => {
  it('deletes every object of the versions beyond the last N, keeps the current one and other folders', async () => {
    // Prepare: four versions deployed a second apart (S3 times have whole seconds), oldest first,
    // and a folder that is not a version.
    for (const n of [1, 2, 3, 4]) {
      for (const file of ['build.json', 'feature_processing.py', 'quantum_pipeline.zip'])
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}${v(n)}/${file}`, Body: file }));
      await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${prefix}notes/readme.txt`, Body: 'kept' }));

    // Act: a deploy that rolled back to version 1, keeping three versions.
    const response = await onEvent(
      {
        RequestType: 'Update',
        PhysicalResourceId: 'retention',
        ResourceProperties: { Bucket: bucket, Prefix: prefix, Keep: '3', CurrentVersion: v(1) },
      },
      s3,
    );

    // Assess: version 1 (current) and the two newest others stay; version 2 is gone entirely.
    expect(response).toEqual({
      PhysicalResourceId: 'retention',
      Data: { kept: expect.any(String), deleted: v(2) },
    });
    expect(response.Data?.kept.split(',').sort()).toEqual([v(1), v(3), v(4)]);
    const left = await keysUnder(prefix);
    expect(left.filter((k) => k.includes(v(2)))).toEqual([]);
    expect(left.filter((k) => k.includes(v(1)))).toHaveLength(3);
    expect(left).toContain(`${prefix}notes/readme.txt`);
  });
});
