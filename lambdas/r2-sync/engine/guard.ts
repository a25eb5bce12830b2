/**
 * The delete guard (rclone's --max-delete): a sync whose plan would delete much of the mirror is
 * more likely a fault than a change of the tables - a wrong prefix, a dropped table, a listing
 * that came back short - so its deletions are refused as a whole, never made in part.
 *
 * Two rules, checked on the plan before anything is deleted:
 * - an empty source listing with a non-empty mirror is refused outright, unless the run says
 *   allowEmptySource (then, and only then, the limits below do not apply: emptying is the intent);
 * - otherwise more planned deletions than maxDeleteCount, or than maxDeleteFraction of the
 *   mirror's objects, are refused.
 * Copies are never held back by it: they only add to the mirror.
 */

export interface DeleteLimits {
  /** Largest share (0 to 1) of the mirror's objects one sync may delete. */
  readonly maxDeleteFraction: number;
  /** Most objects one sync may delete. */
  readonly maxDeleteCount: number;
}

export interface DeleteGuard extends DeleteLimits {
  /** The console said an empty source is meant: mirror it (delete everything). */
  readonly allowEmptySource: boolean;
}

export interface DeleteRefusal {
  readonly reason: 'empty-source' | 'over-limit';
  /** Deletions the plan holds. */
  readonly planned: number;
  /** Objects in the mirror (the destination listing). */
  readonly destination: number;
  readonly limits: DeleteLimits;
}

/** Why the plan's deletions must not be made, or undefined when they may. */
export function deleteRefusal(
  counts: { readonly source: number; readonly destination: number; readonly planned: number },
  guard: DeleteGuard,
): DeleteRefusal | undefined {
  const { source, destination, planned } = counts;
  const limits = { maxDeleteFraction: guard.maxDeleteFraction, maxDeleteCount: guard.maxDeleteCount };
  if (planned === 0) return undefined;
  if (source === 0 && destination > 0) {
    return guard.allowEmptySource ? undefined : { reason: 'empty-source', planned, destination, limits };
  }
  if (planned > guard.maxDeleteCount || planned > guard.maxDeleteFraction * destination) {
    return { reason: 'over-limit', planned, destination, limits };
  }
  return undefined;
}

/** The refusal in words, for the table's error (SyncDeleteGuardError) and the logs. */
export function describeRefusal(table: string, refusal: DeleteRefusal): string {
  const { planned, destination, limits } = refusal;
  const share = destination > 0 ? ` (${Math.round((planned / destination) * 1000) / 10}%)` : '';
  const limitText = `maxDeleteFraction ${limits.maxDeleteFraction}, maxDeleteCount ${limits.maxDeleteCount}`;
  const why =
    refusal.reason === 'empty-source'
      ? 'the source listing is empty; start the sync with {"allowEmptySource": true} if the table really is empty'
      : 'more than the limits allow; raise r2.maxDeleteFraction / r2.maxDeleteCount if this is intended';
  return (
    `${table}: refused to delete ${planned} of the mirror's ${destination} object(s)${share}: ${why}; ` +
    `limits ${limitText}`
  );
}
