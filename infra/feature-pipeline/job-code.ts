/**
 * The packaged Spark job code: the folder `npm run build:spark` wrote and the version it built.
 * Each version is deployed under its own prefix, s3://<artifacts>/spark-jobs/<version>/, so a
 * deploy never overwrites the code a running job reads, and a rollback is a config change
 * (`spark.codeVersion`) to a version still in the bucket.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The build's file naming the version (spark-jobs/build.py). */
export const BUILD_INFO = 'build.json';
/** A code version: the first 16 hex digits of the sources' sha256 (quantum_pipeline/code_version.py). */
export const CODE_VERSION = /^[0-9a-f]{16}$/;

export interface SparkJobCode {
  /** `npm run build:spark` output: the entry points, the package zip and build.json. */
  readonly sourceDir: string;
  /** The version built in sourceDir (its build.json). */
  readonly builtVersion: string;
  /**
   * The version the jobs run. Another than builtVersion is a rollback: nothing is uploaded, and
   * that version's code must already be in the artifacts bucket.
   * @default builtVersion
   */
  readonly runVersion?: string;
}

/** Reads the built version from sourceDir/build.json, naming the file when it is missing or bad. */
export function readJobCode(sourceDir: string, runVersion?: string): SparkJobCode {
  const file = join(sourceDir, BUILD_INFO);
  if (!existsSync(file)) throw new Error(`Spark job code: ${file} is missing: run \`npm run build:spark\``);
  const built = (JSON.parse(readFileSync(file, 'utf-8')) as { codeVersion?: unknown }).codeVersion;
  if (typeof built !== 'string' || !CODE_VERSION.test(built))
    throw new Error(`Spark job code: ${file} codeVersion must be 16 hex digits, got ${JSON.stringify(built)}`);
  return { sourceDir, builtVersion: built, ...(runVersion === undefined ? {} : { runVersion }) };
}
