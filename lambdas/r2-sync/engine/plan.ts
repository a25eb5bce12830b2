/**
 * What a sync has to do, decided from the two listings alone where that is sound.
 *
 * Change detection. A listing gives size and ETag. Equal size and equal ETag mean equal content
 * (for single-part objects the ETag is the MD5 of the bytes; for multipart ones it is the MD5 of
 * the part MD5s, equal only for equal parts). When the ETags differ but the sizes match, the
 * ETags may still describe the same bytes: a multipart source object copied by one PUT, or a
 * large object re-cut into other parts on the way. Every object this sync writes carries the
 * source's ETag and size in its metadata (SOURCE_ETAG_META, SOURCE_SIZE_META), so those keys
 * are checked with one HEAD of the destination (the "checkers") instead of being copied again.
 */
import type { ObjectEntry } from './listing';

export const SOURCE_ETAG_META = 'qp-source-etag';
export const SOURCE_SIZE_META = 'qp-source-size';

export type CopyReason = 'new' | 'size-changed' | 'content-changed';

export interface CopyItem {
  readonly key: string;
  readonly size: number;
  readonly etag: string;
  readonly reason: CopyReason;
}

export interface SyncPlan {
  readonly copy: readonly CopyItem[];
  /** Same size, other ETag: the destination's metadata decides. */
  readonly check: readonly ObjectEntry[];
  readonly delete: readonly ObjectEntry[];
  readonly unchanged: readonly ObjectEntry[];
}

export function planSync(
  source: ReadonlyMap<string, ObjectEntry>,
  destination: ReadonlyMap<string, ObjectEntry>,
): SyncPlan {
  const copy: CopyItem[] = [];
  const check: ObjectEntry[] = [];
  const unchanged: ObjectEntry[] = [];
  for (const entry of source.values()) {
    const there = destination.get(entry.key);
    if (!there) copy.push({ ...entry, reason: 'new' });
    else if (there.size !== entry.size) copy.push({ ...entry, reason: 'size-changed' });
    else if (there.etag === entry.etag && entry.etag !== '') unchanged.push(entry);
    else check.push(entry);
  }
  const deletions = [...destination.values()].filter((entry) => !source.has(entry.key));
  return { copy, check, delete: deletions, unchanged };
}

/** The verdict of a checker: did this sync write the destination object from these source bytes? */
export function metadataMatches(source: ObjectEntry, metadata: Record<string, string> | undefined): boolean {
  return metadata?.[SOURCE_ETAG_META] === source.etag && metadata?.[SOURCE_SIZE_META] === String(source.size);
}

/**
 * Iceberg readers follow metadata to data files: a mirror that gets a table's metadata before
 * its data files would point at files it does not have yet. So data goes in a first wave, the
 * `metadata/` folder (manifests, manifest lists, then the *.metadata.json roots) after it.
 */
export function copyWaves(items: readonly CopyItem[]): CopyItem[][] {
  const rank = (key: string): number => {
    if (!/(^|\/)metadata\//.test(key)) return 0;
    return key.endsWith('.metadata.json') ? 2 : 1;
  };
  const waves: CopyItem[][] = [[], [], []];
  for (const item of items) waves[rank(item.key)].push(item);
  // Largest first: the long transfers start early and the pool drains evenly.
  return waves.filter((wave) => wave.length > 0).map((wave) => wave.sort((a, b) => b.size - a.size));
}
