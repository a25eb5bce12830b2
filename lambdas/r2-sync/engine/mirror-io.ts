/**
 * The I/O of the Iceberg mirror (iceberg-mirror.ts holds the pure rewrites): a metadata file read
 * whole, rewritten and put with its provenance; the current-metadata pointer published once the
 * files it names are all in the mirror.
 */
import { DeleteObjectsCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Logger } from '../../core/logger';
import {
  currentMetadata,
  LATEST_KEY,
  mirrorKind,
  POINTER_KEYS,
  pointerFiles,
  rewriteManifestFile,
  rewriteMetadataJson,
  type TableLocations,
  VERSION_HINT_KEY,
} from './iceberg-mirror';
import type { ObjectEntry, Side } from './listing';
import { unquote } from './listing';
import { type CopyItem, MIRROR_LOCATION_META, SOURCE_ETAG_META, SOURCE_SIZE_META } from './plan';

export interface MirrorSettings {
  readonly locations: TableLocations;
}

async function getWhole(side: Side, key: string): Promise<{ bytes: Buffer; etag: string }> {
  const reply = await side.client.send(new GetObjectCommand({ Bucket: side.bucket, Key: side.prefix + key }));
  if (!reply.Body) throw new Error(`GET ${side.prefix + key} returned no body`);
  return { bytes: Buffer.from(await reply.Body.transformToByteArray()), etag: unquote(reply.ETag) };
}

/**
 * Copies a metadata file that holds absolute paths: read whole (metadata files are small), rewritten
 * for the mirror, put with the source's ETag and size and the mirror location it was rewritten
 * for. `sizes` holds the mirror's size of every rewritten file (relative key), read by the
 * manifest lists' rewrite and updated here.
 */
export async function copyRewritten(
  source: Side,
  destination: Side,
  item: CopyItem,
  mirror: MirrorSettings,
  sizes: Map<string, number>,
): Promise<void> {
  const { bytes, etag } = await getWhole(source, item.key);
  if (bytes.length !== item.size || (etag && item.etag && etag !== item.etag)) {
    throw new Error(
      `${source.prefix + item.key} changed while being copied (${bytes.length} bytes, expected ${item.size})`,
    );
  }
  const rewritten =
    mirrorKind(item.key) === 'metadata-json'
      ? rewriteMetadataJson(bytes, mirror.locations, item.key)
      : rewriteManifestFile(bytes, mirror.locations, item.key, (key) => sizes.get(key));
  await destination.client.send(
    new PutObjectCommand({
      Bucket: destination.bucket,
      Key: destination.prefix + item.key,
      Body: rewritten,
      ContentLength: rewritten.length,
      Metadata: {
        [SOURCE_ETAG_META]: item.etag,
        [SOURCE_SIZE_META]: String(item.size),
        [MIRROR_LOCATION_META]: mirror.locations.target,
      },
    }),
  );
  sizes.set(item.key, rewritten.length);
}

export type PointerOutcome =
  | { readonly state: 'published' | 'unchanged'; readonly metadata: string }
  | { readonly state: 'ambiguous'; readonly candidates: readonly string[] }
  | { readonly state: 'removed' | 'none' };

/**
 * Points the mirror's `version-hint.text` and `latest.json` at the source's current metadata file.
 * Called only when every copy of the run is in: the file named and all it refers to are then in
 * the mirror. latest.json goes first and version-hint.text last, so a run stopped between the two
 * leaves a hint that differs and the next run writes both again. A table whose source has no
 * metadata file loses its pointers (before its files go); an ambiguous current file keeps them.
 */
export async function publishPointer(
  source: Side,
  destination: Side,
  sourceKeys: Iterable<string>,
  pointers: ReadonlyMap<string, ObjectEntry>,
  mirror: MirrorSettings,
  now: () => number,
  log: Logger,
): Promise<PointerOutcome> {
  const current = currentMetadata(sourceKeys);
  if (current === undefined) {
    if (pointers.size === 0) return { state: 'none' };
    await destination.client.send(
      new DeleteObjectsCommand({
        Bucket: destination.bucket,
        Delete: { Objects: POINTER_KEYS.map((key) => ({ Key: destination.prefix + key })), Quiet: true },
      }),
    );
    return { state: 'removed' };
  }
  if ('ambiguous' in current) {
    log.warn('several metadata files share the highest version (a failed commit beside the real one): pointer kept', {
      candidates: current.ambiguous,
    });
    return { state: 'ambiguous', candidates: current.ambiguous };
  }
  const location = `${mirror.locations.target}/${current.key}`;
  const name = current.key.slice('metadata/'.length, -'.metadata.json'.length);
  if (pointers.has(VERSION_HINT_KEY) && pointers.has(LATEST_KEY)) {
    const hint = await getWhole(destination, VERSION_HINT_KEY);
    if (hint.bytes.toString('utf8') === name) return { state: 'unchanged', metadata: location };
  }
  const { bytes } = await getWhole(source, current.key);
  const files = pointerFiles(current.key, bytes, mirror.locations, new Date(now()).toISOString());
  for (const key of [LATEST_KEY, VERSION_HINT_KEY] as const) {
    await destination.client.send(
      new PutObjectCommand({
        Bucket: destination.bucket,
        Key: destination.prefix + key,
        Body: files[key],
        ContentLength: files[key].length,
        ContentType: key === LATEST_KEY ? 'application/json' : 'text/plain',
      }),
    );
  }
  return { state: 'published', metadata: location };
}
