/**
 * How a run's records reach raw-results, where job 1 reads them:
 *
 * - `host-upload`: the container writes its records into a folder of the host mounted for this
 *   run; when it exits 0, the same host command uploads the folder with the host's own
 *   credentials (on AWS: the run document's `aws s3 cp --recursive`, the instance role allowed
 *   s3:PutObject below the records prefix only).
 * - `direct`: the container writes to S3 itself (an image with an S3 output, like mini-VQE's
 *   `--output s3://...`).
 *
 * Either way each launch of a run writes below a key prefix of its own,
 * `<records prefix><container name>/attempt-<n>/`, so CheckRun can count what that launch
 * delivered by listing it. Job 1 lists raw-results/experiments/ recursively, so the extra folder
 * levels change nothing there (the topic stays the first folder, e.g. experiment.vqe).
 *
 * SDK-free: the CDK app (through contract.ts) and the Lambdas import it.
 */
import { containerNameFor } from './container-name';

export const DELIVERY_MODES = ['host-upload', 'direct'] as const;
export type DeliveryMode = (typeof DELIVERY_MODES)[number];

/** Where job 1's topics live and the records go unless configured otherwise. */
export const DEFAULT_RECORDS_PREFIX = 'experiments/experiment.vqe/';
/** The GPU host's folder the per-run folders are made in (host-upload). */
export const DEFAULT_HOST_RECORDS_DIR = '/var/lib/quantum-pipeline/records';
/** The image's flags for its output (mini-VQE's): a folder, an s3:// prefix. */
export const DEFAULT_FOLDER_FLAG = '--output-dir';
export const DEFAULT_S3_FLAG = '--output';
/** Where the container sees its run folder (host-upload on a container launcher). */
export const CONTAINER_RECORDS_DIR = '/qp-records';
/** The run script's exit code when the container exited 0 but its records could not be uploaded. */
export const RECORDS_UPLOAD_EXIT_CODE = 98;
/** The reason (first word of the run state's detail) of a run that exited 0 but delivered no record. */
export const NO_RECORDS_DELIVERED = 'no-records-delivered';

/** A records prefix: folders of letters, digits and _.- (safe in a shell word, an S3 key and an SSM pattern), ending in /. */
export const RECORDS_PREFIX_PATTERN = /^([A-Za-z0-9_.-]+\/)+$/;
/** A flag of the image, as the run document's args parameter accepts it. */
export const OUTPUT_FLAG_PATTERN = /^--[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;

/** What a launcher is told about a run's records (LaunchRequest.records). */
export interface RunRecords {
  readonly mode: DeliveryMode;
  readonly bucket: string;
  /** This launch's own key prefix, ending in /: everything the run delivers lands below it. */
  readonly prefix: string;
  /** The image's flag taking the folder (host-upload) or the s3:// prefix (direct). */
  readonly flag: string;
}

/** The key prefix of one launch of a run: `<root><container name>/attempt-<n>/`. */
export function runRecordsPrefix(root: string, runKey: string, attempt: number): string {
  if (!RECORDS_PREFIX_PATTERN.test(root)) {
    throw new RangeError(
      `records prefix: expected folders of letters, digits and _.- ending in /, got ${JSON.stringify(root)}`,
    );
  }
  if (!Number.isInteger(attempt) || attempt < 1)
    throw new RangeError(`attempt: expected a whole number >= 1, got ${attempt}`);
  return `${root}${containerNameFor(runKey)}/attempt-${attempt}/`;
}

/** The SSM pattern of a run's prefix below `root` (what runRecordsPrefix makes). */
export function runRecordsPrefixPattern(root: string): string {
  return `^${root.replace(/[.]/g, '[.]')}qp-[a-z0-9_.-]{0,80}-[0-9a-f]{8}/attempt-[0-9]{1,6}/$`;
}

/** `s3://bucket/prefix` of a run's records. */
export function recordsUri(records: Pick<RunRecords, 'bucket' | 'prefix'>): string {
  return `s3://${records.bucket}/${records.prefix}`;
}

/** The bucket and prefix of an `s3://bucket/prefix/` URI; undefined for anything else. */
export function parseRecordsUri(uri: string): { bucket: string; prefix: string } | undefined {
  const match = /^s3:\/\/([^/]+)\/(.*\/)$/.exec(uri);
  return match ? { bucket: match[1], prefix: match[2] } : undefined;
}

/**
 * The arguments that tell the image where to write: the s3:// prefix (direct), or `folder`, the
 * run folder as the image sees it (host-upload).
 */
export function recordsArguments(records: RunRecords, folder: string): string[] {
  return [records.flag, records.mode === 'direct' ? recordsUri(records) : folder];
}
