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
/** On a metadata file rewritten for the mirror (iceberg-mirror.ts): the table location it was rewritten for. */
export const MIRROR_LOCATION_META = 'qp-mirror-location';

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

/**
 * `rewritten` says which keys the mirror holds rewritten (Iceberg metadata with its paths changed):
 * their size and ETag differ from the source's by design, so when the mirror has one, its
 * provenance metadata decides (a check), whatever the listings say.
 */
export function planSync(
  source: ReadonlyMap<string, ObjectEntry>,
  destination: ReadonlyMap<string, ObjectEntry>,
  rewritten: (key: string) => boolean = () => false,
): SyncPlan {
  const copy: CopyItem[] = [];
  const check: ObjectEntry[] = [];
  const unchanged: ObjectEntry[] = [];
  for (const entry of source.values()) {
    const there = destination.get(entry.key);
    if (!there) copy.push({ ...entry, reason: 'new' });
    else if (rewritten(entry.key)) check.push(entry);
    else if (there.size !== entry.size) copy.push({ ...entry, reason: 'size-changed' });
    else if (there.etag === entry.etag && entry.etag !== '') unchanged.push(entry);
    else check.push(entry);
  }
  const deletions = [...destination.values()].filter((entry) => !source.has(entry.key));
  return { copy, check, delete: deletions, unchanged };
}

/**
 * The verdict of a checker: did this sync write the destination object from these source bytes
 * (and, for a rewritten one, for this mirror location)?
 */
export function metadataMatches(
  source: ObjectEntry,
  metadata: Record<string, string> | undefined,
  mirrorLocation?: string,
): boolean {
  return (
    metadata?.[SOURCE_ETAG_META] === source.etag &&
    metadata?.[SOURCE_SIZE_META] === String(source.size) &&
    (mirrorLocation === undefined || metadata?.[MIRROR_LOCATION_META] === mirrorLocation)
  );
}

/**
 * Iceberg readers follow metadata to data files: a mirror that gets a table's metadata before
 * its data files would point at files it does not have yet. So data goes in a first wave, then
 * the `metadata/` folder: manifests (and statistics), then the manifest lists (`snap-*.avro`,
 * whose rewrite needs the mirrored manifests' sizes), then the *.metadata.json roots.
 */
export function copyWaves(items: readonly CopyItem[]): CopyItem[][] {
  const rank = (key: string): number => {
    if (!/(^|\/)metadata\//.test(key)) return 0;
    if (key.endsWith('.metadata.json')) return 3;
    return /(^|\/)metadata\/snap-[^/]*\.avro$/.test(key) ? 2 : 1;
  };
  const waves: CopyItem[][] = [[], [], [], []];
  for (const item of items) waves[rank(item.key)].push(item);
  // Largest first: the long transfers start early and the pool drains evenly.
  return waves.filter((wave) => wave.length > 0).map((wave) => wave.sort((a, b) => b.size - a.size));
}
