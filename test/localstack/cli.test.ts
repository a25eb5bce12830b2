/** The local commands' summary of an R2 sync: what moved per table, and what a reader opens. */
import { describe, expect, it } from 'vitest';
import { describeSync } from '../../localstack/embedded/cli';

const table = (name: string, metadata?: string) => ({
  table: name,
  complete: true,
  copied: { objects: 4, bytes: 3 * 1024 * 1024 },
  deleted: { objects: 1, bytes: 10 },
  unchanged: { objects: 7, bytes: 70 },
  invocations: 1,
  ...(metadata ? { metadata } : {}),
});

describe('describeSync', () => {
  it('names the current metadata file of each mirrored table, where a reader opens it', () => {
    const lines = describeSync(
      {
        run: { dryRun: false },
        tables: [table('ml_run_summary', 's3://qp-data/features/ml_run_summary/metadata/00002-abc.metadata.json')],
      },
      's3://qp-data/features/',
    );

    expect(lines).toEqual([
      '  ml_run_summary: copied 4 object(s) (3.0 MiB), deleted 1, unchanged 7, 1 invocation(s) -> s3://qp-data/features/ml_run_summary/' +
        '\n    current metadata: s3://qp-data/features/ml_run_summary/metadata/00002-abc.metadata.json',
    ]);
  });

  it('says "would" in a dry run, which publishes no pointer', () => {
    const [line] = describeSync({ run: { dryRun: true }, tables: [table('ml_run_summary')] }, 's3://qp-data/features/');

    expect(line).toMatch(/would copy 4 object\(s\) .* would delete 1/);
    expect(line).not.toContain('current metadata');
  });
});
