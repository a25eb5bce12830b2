/**
 * A real Iceberg table for the mirror's tests: two appends made by Spark 4.0.2 and Iceberg 1.10.1
 * through the local JDBC catalog (iceberg-table/: its data and metadata folders as Garage held
 * them, under s3a://features/warehouse/r2_fixture/ml_run_summary). `relocated` moves it to
 * another folder of the features bucket with the mirror's own rewrite, so a test can put it where
 * its sync reads.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import {
  mirrorKind,
  rewriteManifestFile,
  rewriteMetadataJson,
  TableLocations,
} from '../../lambdas/r2-sync/engine/iceberg-mirror';

const ROOT = join(__dirname, 'iceberg-table');
export const FIXTURE_BUCKET = 'features';
export const FIXTURE_FOLDER = 'warehouse/r2_fixture/ml_run_summary/';
export const FIXTURE_LOCATION = 's3a://features/warehouse/r2_fixture/ml_run_summary';
/** Its current metadata file (version 2) and the snapshot it names (beyond 2^53: must stay exact). */
export const CURRENT_METADATA = 'metadata/00002-241867b9-0840-4974-b529-8d5d67a5f58a.metadata.json';
export const CURRENT_SNAPSHOT = '219837232382945161';

function walk(folder: string): string[] {
  return readdirSync(folder).flatMap((name) => {
    const path = join(folder, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Relative key -> bytes, as the table's folder holds them. */
export function icebergTable(): Map<string, Buffer> {
  return new Map(walk(ROOT).map((path) => [relative(ROOT, path).split('\\').join('/'), readFileSync(path)]));
}

/** The table as if written under s3://features/<folder> (folder ending in /, paths as EMR writes them). */
export function relocated(folder: string): Map<string, Buffer> {
  const locations = new TableLocations(FIXTURE_BUCKET, FIXTURE_FOLDER, FIXTURE_BUCKET, folder);
  const table = icebergTable();
  const sizes = new Map<string, number>();
  const order = (key: string): number => (key.includes('/snap-') ? 1 : mirrorKind(key) === 'metadata-json' ? 2 : 0);
  const result = new Map<string, Buffer>();
  for (const key of [...table.keys()].sort((a, b) => order(a) - order(b))) {
    const bytes = table.get(key) as Buffer;
    const kind = mirrorKind(key);
    const moved =
      kind === 'copy'
        ? bytes
        : kind === 'metadata-json'
          ? rewriteMetadataJson(bytes, locations, key)
          : rewriteManifestFile(bytes, locations, key, (manifest) => sizes.get(manifest));
    sizes.set(key, moved.length);
    result.set(key, moved);
  }
  return result;
}
