/**
 * The zod schema RunSummary against the golden fixture test/fixtures/run-summary.json: one summary
 * as job 1 writes it. pytest checks the same file against the Python dataclass
 * (spark-jobs/tests/unit/test_run_summary_contract.py), so a field added or renamed on either
 * side fails one of the two.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { QuarantinedFile, RunSummary } from '../../lambdas/feature-pipeline/contract';

const FIXTURE = join(__dirname, '..', 'fixtures', 'run-summary.json');

function fixture(): Record<string, unknown> {
  return JSON.parse(readFileSync(FIXTURE, 'utf8')) as Record<string, unknown>;
}

const sorted = (keys: Iterable<string>): string[] => [...keys].sort();

describe('run summary contract (golden fixture)', () => {
  it('parses with the strict schema, every value kept as written', () => {
    // Prepare
    const written = fixture();

    // Act
    const parsed = z.strictObject(RunSummary.shape).parse(written);

    // Assess
    expect(parsed).toEqual(written);
  });

  it('has exactly the keys of the schema, at the top and in each quarantined file', () => {
    // Prepare
    const written = fixture();
    const quarantined = written.quarantined as Record<string, unknown>[];

    // Act
    const summaryKeys = sorted(Object.keys(written));
    const fileKeys = quarantined.map((item) => sorted(Object.keys(item)));

    // Assess
    expect(summaryKeys).toEqual(sorted(Object.keys(RunSummary.shape)));
    expect(quarantined.length).toBeGreaterThan(0);
    for (const keys of fileKeys) expect(keys).toEqual(sorted(Object.keys(QuarantinedFile.shape)));
  });
});
