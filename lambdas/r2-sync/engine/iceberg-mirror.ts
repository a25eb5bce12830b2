/**
 * What makes the mirror of a table an Iceberg table of its own: its metadata rewritten so that
 * every absolute path names the mirror's location instead of the warehouse's, and a pointer to
 * the current metadata file, so that a reader needs no catalog.
 *
 * Why the sync rewrites the metadata itself (rather than Iceberg's Spark procedure
 * `rewrite_table_path` run by job 2): the sync is the only part that knows the mirror's location,
 * it sees every commit (job 2's, maintenance's) whoever made it, and rewriting is cheap where it
 * runs - a table's metadata files are small and immutable, so each is rewritten once, the sync
 * after it appeared (incremental by construction), with no Spark job and no staging area to keep
 * in step with the warehouse. The Iceberg files involved are:
 * - `*.metadata.json`: JSON whose path strings (location, snapshots' manifest-list, metadata-log,
 *   statistics) are rewritten on the text, so 64-bit ids are never parsed into doubles;
 * - `*.avro` under metadata/ (manifest lists, manifests): every string that is a path is
 *   rewritten, and a manifest list's `manifest_length` becomes the rewritten manifest's size.
 * Data files and other metadata files (Puffin statistics) hold no absolute paths: copied as they are.
 *
 * A path under the warehouse bucket but outside the table's location cannot point into the mirror:
 * refused (MirrorRewriteError) instead of publishing metadata that would send readers to the source.
 */
import { rewriteAvroFile } from './avro';

/** The mirror's pointers to the current metadata, by key relative to the table folder. Never in the source's sync plan. */
export const VERSION_HINT_KEY = 'metadata/version-hint.text';
export const LATEST_KEY = 'metadata/latest.json';
export const POINTER_KEYS = [VERSION_HINT_KEY, LATEST_KEY] as const;

/** A metadata file that cannot be made to point at the mirror; names the file and the value. */
export class MirrorRewriteError extends Error {
  override readonly name = 'MirrorRewriteError';
}

export type MirrorKind = 'copy' | 'metadata-json' | 'avro';

/** How a key (relative to the table folder) reaches the mirror. */
export function mirrorKind(key: string): MirrorKind {
  if (!key.startsWith('metadata/')) return 'copy';
  if (key.endsWith('.metadata.json')) return 'metadata-json';
  return key.endsWith('.avro') ? 'avro' : 'copy';
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export class TableLocations {
  /** The table's location in the mirror, `s3://<bucket>/<prefix><table>`. */
  readonly target: string;
  private readonly underSource: RegExp;
  private readonly inSourceBucket: RegExp;

  /**
   * @param sourceBucket the warehouse bucket
   * @param sourceFolder the table's key prefix there, ending in `/`
   * @param targetBucket the mirror's bucket
   * @param targetFolder the table's key prefix in the mirror, ending in `/`
   */
  constructor(sourceBucket: string, sourceFolder: string, targetBucket: string, targetFolder: string) {
    this.target = `s3://${targetBucket}/${targetFolder.replace(/\/$/, '')}`;
    // Spark writes s3a:// locally (Hadoop's S3A) and s3:// on EMR (S3FileIO): both name the same object.
    const bucket = `^s3[an]?://${escapeRegExp(sourceBucket)}`;
    this.underSource = new RegExp(`${bucket}/${escapeRegExp(sourceFolder.replace(/\/$/, ''))}(?=/|$)`);
    this.inSourceBucket = new RegExp(`${bucket}(/|$)`);
  }

  /** The path in the mirror for a path under the table's source location; other values unchanged. */
  map(value: string, where: string): string {
    const match = this.underSource.exec(value);
    if (match) return this.target + value.slice(match[0].length);
    if (this.inSourceBucket.test(value)) {
      throw new MirrorRewriteError(
        `${where} names ${value}, outside the table's location: the mirror cannot hold it, so it cannot be rewritten`,
      );
    }
    return value;
  }

  /** The key, relative to the table folder, of a path in the mirror; undefined for others. */
  relativeKey(path: string): string | undefined {
    return path.startsWith(`${this.target}/`) ? path.slice(this.target.length + 1) : undefined;
  }
}

const GZIP_MAGIC = [0x1f, 0x8b];

/** An Iceberg table metadata file with its paths rewritten; numbers, order and spacing untouched. */
export function rewriteMetadataJson(bytes: Buffer, locations: TableLocations, key: string): Buffer {
  if (bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1]) {
    throw new MirrorRewriteError(
      `${key} is gzip-compressed: set the table property write.metadata.compression-codec to none to mirror it`,
    );
  }
  const text = bytes.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new MirrorRewriteError(`${key} is not JSON: not an Iceberg metadata file`, { cause });
  }
  const root = parsed as { 'format-version'?: unknown; location?: unknown } | null;
  if (typeof root !== 'object' || root === null || typeof root.location !== 'string') {
    throw new MirrorRewriteError(
      `${key}: location is ${JSON.stringify(root?.location)}, not a path: not an Iceberg metadata file`,
    );
  }
  if (locations.map(root.location, `${key}: location`) === root.location) {
    throw new MirrorRewriteError(`${key}: location ${root.location} is not this table's folder in the warehouse`);
  }
  // Each JSON string token is decoded, mapped and encoded again; everything between them is kept.
  const rewritten = text.replace(/"(?:[^"\\]|\\.)*"/g, (token) => {
    const value = JSON.parse(token) as string;
    const mapped = locations.map(value, key);
    return mapped === value ? token : JSON.stringify(mapped);
  });
  return Buffer.from(rewritten, 'utf8');
}

/**
 * A manifest or manifest list with its paths rewritten. `mirroredSize` gives the size in the
 * mirror of an already rewritten file (relative key): a manifest list's `manifest_length` must be
 * that of the manifest readers will fetch, so manifests go to the mirror before their lists.
 */
export function rewriteManifestFile(
  bytes: Buffer,
  locations: TableLocations,
  key: string,
  mirroredSize: (relativeKey: string) => number | undefined,
): Buffer {
  return rewriteAvroFile(
    bytes,
    {
      string: (value, field) => locations.map(value, `${key}: ${field || 'a value'}`),
      long: (value, field, siblings) => {
        const path = siblings.get('manifest_path');
        if (field !== 'manifest_length' || path === undefined) return value;
        const manifest = locations.relativeKey(path);
        const size = manifest === undefined ? undefined : mirroredSize(manifest);
        if (size === undefined) {
          throw new MirrorRewriteError(`${key} lists manifest ${path}, which the mirror does not hold yet`);
        }
        return BigInt(size);
      },
    },
    key,
  );
}

/** The version of a metadata file name: `v3.metadata.json` (Hadoop tables), `00003-<uuid>.metadata.json` (catalogs). */
function metadataVersion(key: string): number | undefined {
  const match = /^metadata\/v?(\d+)(?:-[^/]*)?\.metadata\.json$/.exec(key);
  return match ? Number(match[1]) : undefined;
}

export type CurrentMetadata =
  | { readonly key: string }
  /** Two or more files share the highest version: one is a commit, the others failed attempts. */
  | { readonly ambiguous: readonly string[] }
  | undefined;

/**
 * The current metadata file among the source's keys: the one of the highest version. Every
 * commit writes version n+1 of the version it read, so the newest commit has the highest number;
 * a failed attempt at the same number beside it makes the choice ambiguous (kept for the caller
 * to decide), until the next commit - which names its predecessor - lifts the number again.
 */
export function currentMetadata(keys: Iterable<string>): CurrentMetadata {
  let best: string[] = [];
  let bestVersion = -1;
  for (const key of keys) {
    const version = metadataVersion(key);
    if (version === undefined || version < bestVersion) continue;
    if (version > bestVersion) best = [];
    bestVersion = version;
    best.push(key);
  }
  if (best.length === 0) return undefined;
  return best.length === 1 ? { key: best[0] } : { ambiguous: best.sort() };
}

/** The raw number token of a top-level field of metadata JSON (64-bit: never parsed to a double). */
function numberToken(text: string, field: string): string | undefined {
  return new RegExp(`"${escapeRegExp(field)}"\\s*:\\s*(-?\\d+)`).exec(text)?.[1];
}

/**
 * The two pointer files for the current metadata file `key`: `version-hint.text` (its name without
 * `.metadata.json`, which pyiceberg's StaticTable and DuckDB's iceberg_scan resolve) and
 * `latest.json` for scripts. Without a trailing newline: readers use the text as a file name.
 */
export function pointerFiles(
  key: string,
  metadata: Buffer,
  locations: TableLocations,
  publishedAt: string,
): Record<(typeof POINTER_KEYS)[number], Buffer> {
  const text = metadata.toString('utf8');
  const name = key.slice('metadata/'.length, -'.metadata.json'.length);
  const snapshot = numberToken(text, 'current-snapshot-id') ?? 'null';
  const updated = numberToken(text, 'last-updated-ms') ?? 'null';
  const latest =
    '{\n' +
    `  "metadata-location": ${JSON.stringify(`${locations.target}/${key}`)},\n` +
    `  "table-location": ${JSON.stringify(locations.target)},\n` +
    `  "current-snapshot-id": ${snapshot},\n` +
    `  "last-updated-ms": ${updated},\n` +
    `  "published-at": ${JSON.stringify(publishedAt)}\n` +
    '}\n';
  return { [VERSION_HINT_KEY]: Buffer.from(name, 'utf8'), [LATEST_KEY]: Buffer.from(latest, 'utf8') };
}
