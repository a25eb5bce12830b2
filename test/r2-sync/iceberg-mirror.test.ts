/** The mirror's rewrites of real Iceberg metadata (a table Spark and Iceberg 1.10 wrote), its Avro transcoder and its pointer. */
import { describe, expect, it } from 'vitest';
import { AvroFormatError, avroFileMetadata, rewriteAvroFile } from '../../lambdas/r2-sync/engine/avro';
import {
  currentMetadata,
  LATEST_KEY,
  MirrorRewriteError,
  mirrorKind,
  pointerFiles,
  rewriteManifestFile,
  rewriteMetadataJson,
  TableLocations,
  VERSION_HINT_KEY,
} from '../../lambdas/r2-sync/engine/iceberg-mirror';
import { CURRENT_METADATA, CURRENT_SNAPSHOT, FIXTURE_FOLDER, FIXTURE_LOCATION, icebergTable } from './iceberg-table';

const TARGET = 's3://qp-data/features/ml_run_summary';
const locations = new TableLocations('features', FIXTURE_FOLDER, 'qp-data', 'features/ml_run_summary/');
const table = icebergTable();
const keys = [...table.keys()];
const manifests = keys.filter((key) => /^metadata\/[^/]*-m\d+\.avro$/.test(key));
const manifestLists = keys.filter((key) => key.startsWith('metadata/snap-'));

/** Every string and long of an Avro file, in order. */
function values(file: Buffer): { strings: string[]; longs: bigint[] } {
  const strings: string[] = [];
  const longs: bigint[] = [];
  rewriteAvroFile(file, {
    string: (value) => {
      strings.push(value);
      return value;
    },
    long: (value) => {
      longs.push(value);
      return value;
    },
  });
  return { strings, longs };
}

describe('Avro object container files', () => {
  it('transcodes a manifest unchanged when the hooks change nothing, header and records alike', () => {
    const manifest = table.get(manifests[0]) as Buffer;

    const again = rewriteAvroFile(manifest, {});

    expect(avroFileMetadata(again)).toEqual(avroFileMetadata(manifest));
    expect(values(again)).toEqual(values(manifest));
    expect(values(manifest).strings.some((value) => value.includes('/data/processing_date='))).toBe(true);
  });

  it('refuses what is not an object container file, and a codec it cannot decode, by name', () => {
    expect(() => rewriteAvroFile(Buffer.from('PAR1 not avro'), {}, 'metadata/x.avro')).toThrow(
      new AvroFormatError('metadata/x.avro is not an Avro object container file'),
    );
    const manifest = table.get(manifests[0]) as Buffer;
    const snappy = Buffer.from(manifest.toString('latin1').replace('deflate', 'snappy\u0000'), 'latin1');
    // Same length: "deflate" -> "snappy" plus a NUL keeps every offset, so only the codec differs.
    expect(() => rewriteAvroFile(snappy, {}, 'metadata/m.avro')).toThrow('Avro codec snappy\u0000 is not supported');
  });
});

describe('rewriting Iceberg metadata for the mirror', () => {
  it('classifies the files of a table folder', () => {
    expect(mirrorKind(CURRENT_METADATA)).toBe('metadata-json');
    expect(mirrorKind(manifests[0])).toBe('avro');
    expect(mirrorKind(manifestLists[0])).toBe('avro');
    expect(mirrorKind('data/processing_date=2026-01-02/a.parquet')).toBe('copy');
    expect(mirrorKind('metadata/stats-1.stats')).toBe('copy');
  });

  it('points every path of a metadata.json at the mirror and keeps the rest byte for byte, 64-bit ids included', () => {
    const source = (table.get(CURRENT_METADATA) as Buffer).toString('utf8');

    const rewritten = rewriteMetadataJson(
      table.get(CURRENT_METADATA) as Buffer,
      locations,
      CURRENT_METADATA,
    ).toString();

    expect(rewritten).not.toContain('s3a://features');
    expect(rewritten).toBe(source.replaceAll(FIXTURE_LOCATION, TARGET));
    expect(rewritten).toContain(`"location":"${TARGET}"`);
    expect(rewritten).toContain(`"current-snapshot-id":${CURRENT_SNAPSHOT}`);
    expect(rewritten).toContain(`"manifest-list":"${TARGET}/metadata/snap-`);
    expect(rewritten).toContain(`"metadata-file":"${TARGET}/metadata/00001-`);
  });

  it('refuses a metadata file naming a path of the warehouse outside the table, naming file and path', () => {
    const text = (table.get(CURRENT_METADATA) as Buffer).toString('utf8');
    const foreign = text.replace('"owner":"root"', '"owner":"root","write.data.path":"s3://features/elsewhere/data"');

    expect(() => rewriteMetadataJson(Buffer.from(foreign), locations, CURRENT_METADATA)).toThrow(
      new MirrorRewriteError(
        `${CURRENT_METADATA} names s3://features/elsewhere/data, outside the table's location: ` +
          'the mirror cannot hold it, so it cannot be rewritten',
      ),
    );
  });

  it.each([
    ['{}', /location is undefined, not a path: not an Iceberg metadata file/],
    ['{"location": "s3://other-bucket/t"}', /location s3:\/\/other-bucket\/t is not this table's folder/],
    ['not json', /is not JSON: not an Iceberg metadata file/],
    ['\u001f\u008b gzip', /is gzip-compressed: set the table property write.metadata.compression-codec to none/],
  ])('refuses %j as metadata, saying why', (body, message) => {
    expect(() => rewriteMetadataJson(Buffer.from(body, 'latin1'), locations, 'metadata/v1.metadata.json')).toThrow(
      message,
    );
  });

  it('rewrites the data file paths of a manifest and nothing else', () => {
    const manifest = table.get(manifests[0]) as Buffer;

    const rewritten = rewriteManifestFile(manifest, locations, manifests[0], () => undefined);

    const before = values(manifest);
    const after = values(rewritten);
    expect(after.longs).toEqual(before.longs);
    expect(after.strings).toEqual(before.strings.map((value) => value.replace(FIXTURE_LOCATION, TARGET)));
    expect(after.strings.filter((value) => value.startsWith(`${TARGET}/data/`)).length).toBeGreaterThan(0);
  });

  it("sets a manifest list's manifest_length to the rewritten manifest's size in the mirror", () => {
    const list = manifestLists.find((key) => key.includes(CURRENT_SNAPSHOT)) as string;
    const sizes = new Map(manifests.map((key, index) => [key, 10_000 + index]));

    const rewritten = rewriteManifestFile(table.get(list) as Buffer, locations, list, (key) => sizes.get(key));

    // The snapshot's list names both manifests (one per append), each with its size in the mirror.
    const listed: [string, bigint][] = [];
    rewriteAvroFile(rewritten, {
      long: (value, field, siblings) => {
        if (field === 'manifest_length') listed.push([siblings.get('manifest_path') as string, value]);
        return value;
      },
    });
    expect(listed.sort()).toEqual(
      manifests.map((key) => [`${TARGET}/${key}`, BigInt(sizes.get(key) as number)]).sort(),
    );
    // Nothing else changed: the other longs (ids, counts) are the source's.
    const original = values(table.get(list) as Buffer).longs;
    const changed = values(rewritten).longs.filter((value, i) => value !== original[i]);
    expect(changed.sort()).toEqual([...sizes.values()].map(BigInt).sort());
  });

  it('refuses a manifest list whose manifest the mirror does not hold yet', () => {
    const list = manifestLists[0];

    expect(() => rewriteManifestFile(table.get(list) as Buffer, locations, list, () => undefined)).toThrow(
      /lists manifest s3:\/\/qp-data\/features\/ml_run_summary\/metadata\/.*-m0\.avro, which the mirror does not hold yet/,
    );
  });
});

describe('the current-metadata pointer', () => {
  it('names the metadata file of the highest version', () => {
    expect(currentMetadata(keys)).toEqual({ key: CURRENT_METADATA });
    expect(
      currentMetadata(['metadata/v1.metadata.json', 'metadata/v12.metadata.json', 'metadata/v3.metadata.json']),
    ).toEqual({
      key: 'metadata/v12.metadata.json',
    });
    expect(currentMetadata(['data/a.parquet'])).toBeUndefined();
  });

  it('is ambiguous when a failed commit left a file of the same version beside the real one', () => {
    expect(currentMetadata([...keys, 'metadata/00002-ffff.metadata.json'])).toEqual({
      ambiguous: [CURRENT_METADATA, 'metadata/00002-ffff.metadata.json'],
    });
  });

  it('writes a version hint readers resolve and a latest.json with the exact snapshot id', () => {
    const files = pointerFiles(
      CURRENT_METADATA,
      table.get(CURRENT_METADATA) as Buffer,
      locations,
      '2026-12-07T00:00:00.000Z',
    );

    expect(files[VERSION_HINT_KEY].toString()).toBe('00002-241867b9-0840-4974-b529-8d5d67a5f58a');
    const latest = files[LATEST_KEY].toString();
    expect(latest).toContain(`"current-snapshot-id": ${CURRENT_SNAPSHOT},`);
    expect(JSON.parse(latest)).toMatchObject({
      'metadata-location': `${TARGET}/${CURRENT_METADATA}`,
      'table-location': TARGET,
      'published-at': '2026-12-07T00:00:00.000Z',
    });
  });
});
