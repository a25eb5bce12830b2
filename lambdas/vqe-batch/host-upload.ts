/**
 * The host-upload part of the run document (delivery.ts): the container gets a folder of the
 * host, `<hostDir>/<container name>`, mounted at CONTAINER_RECORDS_DIR; when it exits 0, the
 * same script uploads the folder with the host's AWS CLI and instance role to the run's own
 * prefix, `s3://<bucket>/<recordsPrefix parameter>`, then removes it. An upload that fails ends
 * the script with RECORDS_UPLOAD_EXIT_CODE and leaves the folder for a manual upload.
 *
 * The bucket, the records prefix's root, the host folder and the region are fixed at synth;
 * the invoker only chooses the run's prefix below the root, pattern-checked.
 *
 * SDK-free: the CDK app and the Lambdas import it.
 */
import {
  CONTAINER_RECORDS_DIR,
  RECORDS_PREFIX_PATTERN,
  RECORDS_UPLOAD_EXIT_CODE,
  runRecordsPrefixPattern,
} from './delivery';

/** What the run document fixes for host-upload. */
export interface HostUploadSettings {
  /** raw-results (a token at synth). */
  readonly bucket: string;
  /** The records prefix's root; each run's own prefix below it is the recordsPrefix parameter. */
  readonly prefix: string;
  /** The host folder the run folders are made in. */
  readonly hostDir: string;
  /** The bucket's region (the stack's). */
  readonly region: string;
}

/** An absolute host folder of letters, digits and _.@+- (no quote, no space, no ..). */
const HOST_DIR = /^\/[A-Za-z0-9_.@+-]+(\/[A-Za-z0-9_.@+-]+)*$/;

/** Problems of the host-upload settings, each naming the field and the value. */
export function hostUploadProblems(settings: Pick<HostUploadSettings, 'prefix' | 'hostDir'>): string[] {
  const problems: string[] = [];
  if (!RECORDS_PREFIX_PATTERN.test(settings.prefix)) {
    problems.push(
      `delivery.prefix: expected folders of letters, digits and _.- ending in /, got ${JSON.stringify(settings.prefix)}`,
    );
  }
  if (!HOST_DIR.test(settings.hostDir) || settings.hostDir.split('/').includes('..')) {
    problems.push(
      `delivery.hostDir: expected an absolute folder of letters, digits and _.@+-, got ${JSON.stringify(settings.hostDir)}`,
    );
  }
  return problems;
}

/** The recordsPrefix parameter's pattern: a run's own prefix below the root, or empty (action=stop). */
export function recordsPrefixParameterPattern(root: string): string {
  return `^$|${runRecordsPrefixPattern(root)}`;
}

/**
 * The lines that replace `exec docker run ...` in the run document: make the run folder, run the
 * container with it mounted, upload on exit 0. `dockerRun` is the `docker run` command without
 * the image and arguments; `secretNames` are unset for the upload, so a container secret named
 * AWS_* cannot change the host's own credentials.
 */
export function hostUploadLines(
  settings: HostUploadSettings,
  dockerRun: string,
  imageAndArgs: string,
  secretNames: readonly string[],
): string[] {
  const problems = hostUploadProblems(settings);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const root = settings.hostDir;
  const target = `s3://${settings.bucket}/`;
  const unset = secretNames.map((name) => ` -u ${name}`).join('');
  return [
    "qp_prefix='{{ recordsPrefix }}'",
    `[ -n "$qp_prefix" ] || { echo 'recordsPrefix is required with action=run (delivery host-upload)' >&2; exit 2; }`,
    // Only root may enter the parent; the run folder itself is writable by any container user.
    `qp_dir='${root}'/"$name"`,
    `rm -rf "$qp_dir" && mkdir -p -m 0700 '${root}' && mkdir -m 0777 "$qp_dir" || { echo "cannot make the run folder $qp_dir" >&2; exit ${RECORDS_UPLOAD_EXIT_CODE}; }`,
    `${dockerRun} -v "$qp_dir:${CONTAINER_RECORDS_DIR}" ${imageAndArgs}`,
    'qp_code=$?',
    'if [ "$qp_code" -ne 0 ]; then exit "$qp_code"; fi',
    `env${unset} aws s3 cp --recursive --only-show-errors --region '${settings.region}' --exclude '.*' --exclude '*/.*' "$qp_dir/" "${target}$qp_prefix" || { echo "the records of $name could not be uploaded to ${target}$qp_prefix; they stay in $qp_dir" >&2; exit ${RECORDS_UPLOAD_EXIT_CODE}; }`,
    'rm -rf "$qp_dir"',
  ];
}
