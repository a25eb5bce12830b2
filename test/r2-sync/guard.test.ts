/** The delete guard: which plans may delete, and the words of a refusal. */
import { describe, expect, it } from 'vitest';
import { type DeleteGuard, deleteRefusal, describeRefusal } from '../../lambdas/r2-sync/engine/guard';

const guard: DeleteGuard = { maxDeleteFraction: 0.5, maxDeleteCount: 1000, allowEmptySource: false };
const limits = { maxDeleteFraction: 0.5, maxDeleteCount: 1000 };

describe('deleteRefusal', () => {
  it.each([
    ['nothing to delete', { source: 0, destination: 0, planned: 0 }],
    ['a few of many', { source: 95, destination: 100, planned: 5 }],
    ['exactly the fraction', { source: 10, destination: 20, planned: 10 }],
    ['exactly the count', { source: 5000, destination: 4000, planned: 1000 }],
  ])('lets the deletions through: %s', (_, counts) => {
    // Act
    const refusal = deleteRefusal(counts, guard);

    // Assess
    expect(refusal).toBeUndefined();
  });

  it('refuses more than the fraction of the mirror', () => {
    // Act
    const refusal = deleteRefusal({ source: 9, destination: 20, planned: 11 }, guard);

    // Assess
    expect(refusal).toEqual({ reason: 'over-limit', planned: 11, destination: 20, limits });
  });

  it('refuses more than the count, even within the fraction', () => {
    // Act
    const refusal = deleteRefusal(
      { source: 3000, destination: 4000, planned: 1001 },
      { ...guard, maxDeleteFraction: 1 },
    );

    // Assess
    expect(refusal).toMatchObject({ reason: 'over-limit', planned: 1001 });
  });

  it('refuses any deletion with limits of zero', () => {
    // Act + Assess
    expect(deleteRefusal({ source: 9, destination: 10, planned: 1 }, { ...guard, maxDeleteCount: 0 })).toMatchObject({
      reason: 'over-limit',
    });
    expect(deleteRefusal({ source: 9, destination: 10, planned: 1 }, { ...guard, maxDeleteFraction: 0 })).toMatchObject(
      { reason: 'over-limit' },
    );
  });

  it('refuses an empty source over a non-empty mirror outright, whatever the limits', () => {
    // Act
    const refusal = deleteRefusal(
      { source: 0, destination: 3, planned: 3 },
      { maxDeleteFraction: 1, maxDeleteCount: 1_000_000, allowEmptySource: false },
    );

    // Assess
    expect(refusal).toEqual({
      reason: 'empty-source',
      planned: 3,
      destination: 3,
      limits: { maxDeleteFraction: 1, maxDeleteCount: 1_000_000 },
    });
  });

  it('lets an empty source empty the mirror when the run allows it, beyond the limits', () => {
    // Act
    const refusal = deleteRefusal(
      { source: 0, destination: 5000, planned: 5000 },
      { ...guard, allowEmptySource: true },
    );

    // Assess
    expect(refusal).toBeUndefined();
  });

  it('keeps the limits when the source is not empty, even with allowEmptySource', () => {
    // Act + Assess
    expect(
      deleteRefusal({ source: 1, destination: 20, planned: 19 }, { ...guard, allowEmptySource: true }),
    ).toMatchObject({ reason: 'over-limit' });
  });
});

describe('describeRefusal', () => {
  it('names the table, the planned deletions, the mirror count, the share and the limits', () => {
    // Act
    const text = describeRefusal('ml_run_summary', { reason: 'over-limit', planned: 11, destination: 20, limits });

    // Assess
    expect(text).toBe(
      "ml_run_summary: refused to delete 11 of the mirror's 20 object(s) (55%): more than the limits allow; " +
        'raise r2.maxDeleteFraction / r2.maxDeleteCount if this is intended; limits maxDeleteFraction 0.5, maxDeleteCount 1000',
    );
  });

  it('tells how to mirror a table that really is empty', () => {
    // Act
    const text = describeRefusal('ml_iteration_features', {
      reason: 'empty-source',
      planned: 3,
      destination: 3,
      limits,
    });

    // Assess
    expect(text).toBe(
      "ml_iteration_features: refused to delete 3 of the mirror's 3 object(s) (100%): the source listing is empty; " +
        'start the sync with {"allowEmptySource": true} if the table really is empty; limits maxDeleteFraction 0.5, maxDeleteCount 1000',
    );
  });
});
