/**
 * What may reach the GPU host, as data. The batch never sends a shell line: it sends one of two
 * SSM Command documents deployed with the stack (run/stop a VQE container; build the image), and
 * the only things an invoker chooses are the documents' parameters, each bounded by an
 * `allowedPattern`. The launcher checks the same patterns before SendCommand, so a hostile value
 * is refused in the Lambda and, failing that, by SSM itself. The image repository, the
 * `docker run` options and the build folder are fixed in the documents at synth, after the checks
 * below (image reference grammar, an allowlist of `docker run` options, no inline secrets); so are
 * the container secrets' names, whose values the document reads on the host (container-secrets.ts).
 *
 * SDK-free: the CDK app and the Lambdas both import it.
 */
import {
  type ContainerSecrets,
  containerSecretProblems,
  secretEnvOptions,
  secretLookupLines,
} from './container-secrets';
import { type HostUploadSettings, hostUploadLines, recordsPrefixParameterPattern } from './host-upload';
import { imageParameterPattern } from './image-reference';

/** A POSIX shell word: the value single-quoted, safe for any content. */
export function shellQuote(value: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'"'"'`)}'`;
}

/** The document parameters' patterns, as SSM reads them (allowedPattern) and as the launcher checks them. */
export const PARAMETER_PATTERNS = {
  /** What containerNameFor makes: qp-<readable run key, at most 80 characters>-<8 hex digits>. */
  containerName: '^qp-[a-z0-9_.-]{0,80}-[0-9a-f]{8}$',
  /** `all`, `device=N[,M...]`, or `none` (the cpu lane: no --gpus at all). */
  gpus: '^(none|all|device=[0-9]{1,2}(,[0-9]{1,2}){0,15})$',
  /** `--flag [value]` tokens separated by one space: no quotes, no shell metacharacters, no globs. */
  args: '^(--[A-Za-z0-9][A-Za-z0-9-]{0,63}( [A-Za-z0-9_.,:/+=@][A-Za-z0-9_.,:/+=@-]{0,1023})?( --[A-Za-z0-9][A-Za-z0-9-]{0,63}( [A-Za-z0-9_.,:/+=@][A-Za-z0-9_.,:/+=@-]{0,1023})?)*)?$',
  cudaArch: '^[0-9]{1,2}[.][0-9]$',
  executionTimeout: '^[0-9]{1,6}$',
} as const;

/** A lane's device spec as configured (batch.laneDevices): `all` or `device=N[,M...]`. */
export const LANE_DEVICES_PATTERN = /^(all|device=[0-9]{1,2}(,[0-9]{1,2}){0,15})$/;

/** One argument token: a `--flag`, or the value after it. */
const ARG_FLAG = /^--[A-Za-z0-9][A-Za-z0-9-]{0,63}$/;
const ARG_VALUE = /^[A-Za-z0-9_.,:/+=@][A-Za-z0-9_.,:/+=@-]{0,1023}$/;

/** Names that look like they hold a secret (an environment variable, a flag). */
const SECRET_NAME = /TOKEN|SECRET|PASSWORD|PASSWD|KEY|CREDENTIAL/i;

export function looksSecret(name: string): boolean {
  return SECRET_NAME.test(name);
}

export {
  type ImageReference,
  imageParameterPattern,
  imageReferenceProblem,
  parseImageReference,
} from './image-reference';

/** A problem of one entry of a list, by its index. */
export interface EntryProblem {
  readonly index: number;
  readonly message: string;
  /** The value as it may be shown (a secret-looking value is masked). */
  readonly shown: string;
}

const SIZE = /^[0-9]+[bkmgBKMG]?$/;
const ABSOLUTE_PATH = /^\/[A-Za-z0-9_.@+/-]*$/;
const SAFE_TEXT = /^[A-Za-z0-9_.,:/@%+=-]*$/;
/** Host folders a container must never see (the host's root, system folders, Docker's and SSM's own). */
const FORBIDDEN_MOUNT_SOURCES = [
  '/bin',
  '/boot',
  '/dev',
  '/etc',
  '/lib',
  '/lib64',
  '/proc',
  '/root',
  '/run',
  '/sbin',
  '/sys',
  '/usr',
  '/var/lib/amazon',
  '/var/lib/docker',
  '/var/run',
  '/var/snap',
];

type ValueCheck = (value: string) => string | undefined;

const matching =
  (pattern: RegExp, expected: string): ValueCheck =>
  (value) =>
    pattern.test(value) ? undefined : `expected ${expected}`;

function envCheck(value: string): string | undefined {
  const [name, ...rest] = value.split('=');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) return 'expected NAME or NAME=value';
  if (rest.length === 0) return undefined;
  if (looksSecret(name)) {
    return `${name} looks like a secret and must not be inline: use --env-file with a file on the host, or -e ${name} without a value`;
  }
  return SAFE_TEXT.test(rest.join('=')) ? undefined : 'expected a value of letters, digits and _.,:/@%+=-';
}

function normalizedPath(path: string): string {
  return `/${path.split('/').filter(Boolean).join('/')}`;
}

function volumeCheck(value: string): string | undefined {
  const [source, target, mode, ...more] = value.split(':');
  if (target === undefined || more.length > 0) return 'expected SOURCE:TARGET[:ro|rw]';
  if (mode !== undefined && !/^(ro|rw)$/.test(mode)) return `expected the mode ro or rw, got ${mode}`;
  if (!ABSOLUTE_PATH.test(target)) return 'expected an absolute TARGET path';
  if (/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(source)) return undefined; // a named volume
  if (!ABSOLUTE_PATH.test(source) || source.split('/').includes('..')) return 'expected an absolute SOURCE path';
  const host = normalizedPath(source);
  if (host === '/') return "mounts the host's root folder";
  const forbidden = FORBIDDEN_MOUNT_SOURCES.find((root) => host === root || host.startsWith(`${root}/`));
  return forbidden ? `mounts the host's ${forbidden} folder` : undefined;
}

interface OptionSpec {
  readonly names: readonly string[];
  /** Absent: a flag without a value. */
  readonly check?: ValueCheck;
}

/** The `docker run` options batch.dockerRunOptions may hold; anything else (--privileged, --cap-add, --device, --pid, ...) is refused. */
const ALLOWED_OPTIONS: readonly OptionSpec[] = [
  { names: ['--shm-size'], check: matching(SIZE, 'a size such as 8g') },
  { names: ['--ipc'], check: matching(/^(host|private|shareable|none)$/, 'host, private, shareable or none') },
  { names: ['--ulimit'], check: matching(/^[a-z]+=-?[0-9]+(:-?[0-9]+)?$/, 'NAME=SOFT[:HARD]') },
  {
    names: ['--network', '--net'],
    check: matching(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/, 'a network name such as host or bridge'),
  },
  { names: ['--env', '-e'], check: envCheck },
  {
    names: ['--env-file'],
    check: (value) =>
      ABSOLUTE_PATH.test(value) && !value.split('/').includes('..') ? undefined : 'expected an absolute path',
  },
  { names: ['--volume', '-v'], check: volumeCheck },
  { names: ['--user', '-u'], check: matching(/^[a-z0-9_][a-z0-9_-]*(:[a-z0-9_][a-z0-9_-]*)?$/, 'USER[:GROUP]') },
  { names: ['--workdir', '-w'], check: matching(ABSOLUTE_PATH, 'an absolute path') },
  { names: ['--memory', '-m', '--memory-swap'], check: matching(SIZE, 'a size such as 16g') },
  { names: ['--cpus'], check: matching(/^[0-9]+([.][0-9]+)?$/, 'a number of CPUs') },
  { names: ['--cpuset-cpus'], check: matching(/^[0-9]+([-,][0-9]+)*$/, 'CPU numbers such as 0-3') },
  { names: ['--label', '-l'], check: matching(/^[A-Za-z0-9_.-]+(=[A-Za-z0-9_.,:/@+-]*)?$/, 'KEY[=value]') },
  { names: ['--log-driver'], check: matching(/^[a-z0-9_-]+$/, 'a log driver name') },
  { names: ['--log-opt'], check: matching(/^[a-z0-9_-]+=[A-Za-z0-9_.,:/@+-]*$/, 'KEY=value') },
  { names: ['--pull'], check: matching(/^(always|missing|never)$/, 'always, missing or never') },
  { names: ['--init'] },
  { names: ['--read-only'] },
];
const ALLOWED_NAMES = ALLOWED_OPTIONS.flatMap((spec) => spec.names.filter((name) => name.startsWith('--')));

/** An entry as it may be shown: whatever follows a secret-looking NAME= masked. */
function masked(entry: string): string {
  const parts = entry.split('=');
  for (let i = 0; i < parts.length - 1; i += 1) {
    if (looksSecret(parts[i])) return `${parts.slice(0, i + 1).join('=')}=***`;
  }
  return entry;
}

/**
 * Problems of `docker run` options, each naming the entry: options outside the allowlist, values
 * that do not fit their option, and secret-looking environment variables given inline.
 */
export function dockerRunOptionProblems(options: readonly string[]): EntryProblem[] {
  const problems: EntryProblem[] = [];
  for (let index = 0; index < options.length; index += 1) {
    const entry = options[index];
    const inline = /^(--[a-z][a-z0-9-]*)=(.*)$/s.exec(entry);
    const name = inline ? inline[1] : entry;
    const spec = ALLOWED_OPTIONS.find((candidate) => candidate.names.includes(name));
    if (!spec) {
      // The entry after an unknown option is taken as its value: one problem, not two.
      const value =
        !inline && index + 1 < options.length && !options[index + 1].startsWith('-') ? options[index + 1] : undefined;
      problems.push({
        index,
        shown: value === undefined ? masked(entry) : `${entry} ${masked(value)}`,
        message: `not an allowed docker run option (allowed: ${ALLOWED_NAMES.join(', ')}; --privileged, --cap-add, --device, --pid, --gpus, --name and the like are refused)`,
      });
      if (value !== undefined) index += 1;
      continue;
    }
    if (!spec.check) {
      if (inline) problems.push({ index, shown: masked(entry), message: `${name} takes no value` });
      continue;
    }
    const at = index;
    let value = inline?.[2];
    if (value === undefined) {
      value = options[index + 1];
      if (value !== undefined) index += 1;
    }
    const problem = value === undefined ? `${name} needs a value` : spec.check(value);
    if (problem) {
      const shown = inline || value === undefined ? masked(entry) : `${entry} ${masked(value)}`;
      problems.push({ index: at, shown, message: `${name}: ${problem}` });
    }
  }
  return problems;
}

/**
 * Problems of simulation arguments (batch.extraArgs, a run's arguments): `--flag [value]` tokens
 * of restricted characters, the form the run document's `args` parameter accepts, and no
 * secret-looking flag with its value inline.
 */
export function argumentProblems(args: readonly string[]): EntryProblem[] {
  const problems: EntryProblem[] = [];
  args.forEach((arg, index) => {
    const previous = index > 0 ? args[index - 1] : undefined;
    const inlineSecret = /^--?([A-Za-z0-9_-]+)=/.exec(arg);
    if (inlineSecret && looksSecret(inlineSecret[1])) {
      problems.push({
        index,
        shown: masked(arg),
        message: `${inlineSecret[1]} looks like a secret and must not be inline`,
      });
    } else if (ARG_FLAG.test(arg)) {
      // a flag
    } else if (!ARG_VALUE.test(arg)) {
      problems.push({
        index,
        shown: arg,
        message:
          'expected a --flag or a value of letters, digits and _.,:/+=@- (no spaces, quotes or shell characters)',
      });
    } else if (previous === undefined || !ARG_FLAG.test(previous)) {
      problems.push({ index, shown: arg, message: 'expected a --flag before this value' });
    } else if (looksSecret(previous)) {
      problems.push({
        index,
        shown: '***',
        message: `the value of ${previous} looks like a secret and must not be inline`,
      });
    }
  });
  return problems;
}

/** `<label>[i]: <message>, got "<value>"` of each problem. */
export function describeProblems(label: string, problems: readonly EntryProblem[]): string[] {
  return problems.map(({ index, message, shown }) => `${label}[${index}]: ${message}, got ${JSON.stringify(shown)}`);
}

/** What a build folder or Dockerfile path may be: no quotes, no braces (SSM would read {{ }}), no leading -. */
export const HOST_PATH = /^[A-Za-z0-9_.@+/][A-Za-z0-9_.@+/ -]{0,1023}$/;

/** The run document's parameter names. */
export type RunParameter =
  | 'action'
  | 'containerName'
  | 'image'
  | 'gpus'
  | 'args'
  | 'executionTimeout'
  | 'recordsPrefix';
export type BuildParameter = 'image' | 'cudaArch' | 'executionTimeout';

const stringParameter = (description: string, extra: Record<string, unknown>) => ({
  type: 'String',
  description,
  ...extra,
});

/** The default executionTimeout of both documents (the launcher always sends its own). */
const DEFAULT_EXECUTION_TIMEOUT = '3600';

/**
 * The run document: `action=run` replaces a leftover container of the same name and runs the
 * image with the fixed options and the run's arguments; `action=stop` removes the container.
 */
export function runDocumentContent(settings: {
  readonly image: string;
  readonly dockerRunOptions: readonly string[];
  /** Read on the host before `docker run` (container-secrets.ts). @default none */
  readonly containerSecrets?: ContainerSecrets;
  /** Where the secrets are read (a secret given by ARN: its own region); required with containerSecrets. */
  readonly region?: string;
  /**
   * Delivery host-upload (host-upload.ts): the run folder mounted, uploaded on exit 0; adds the
   * recordsPrefix parameter. @default none: the container delivers its records itself
   */
  readonly hostUpload?: HostUploadSettings;
}): Record<string, unknown> {
  const secrets = settings.containerSecrets ?? {};
  const problems = [
    ...describeProblems('dockerRunOptions', dockerRunOptionProblems(settings.dockerRunOptions)),
    ...containerSecretProblems('containerSecrets', secrets, settings.dockerRunOptions),
  ];
  if (Object.keys(secrets).length > 0 && !settings.region) problems.push('region: required with containerSecrets');
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  // The secrets' -e NAME come last: they win over an --env-file that sets the same name.
  const options = [...settings.dockerRunOptions, ...secretEnvOptions(secrets)].map(shellQuote).join(' ');
  const lookups = settings.region ? secretLookupLines(secrets, settings.region) : [];
  const dockerRun = `docker run --rm --name "$name" "$@"${options ? ` ${options}` : ''}`;
  const imageAndArgs = "'{{ image }}' {{ args }}";
  const upload = settings.hostUpload;
  return {
    schemaVersion: '2.2',
    description:
      'Quantum Pipeline VQE batch: runs (action=run) or removes (action=stop) one simulation container. ' +
      'The image repository and the docker run options are fixed at deploy time; every parameter is pattern-checked.',
    parameters: {
      action: stringParameter('run or stop', { allowedValues: ['run', 'stop'] }),
      containerName: stringParameter('qp-<run key>-<hash>', { allowedPattern: PARAMETER_PATTERNS.containerName }),
      image: stringParameter('the configured repository, any tag or digest', {
        allowedPattern: imageParameterPattern(settings.image),
        default: settings.image,
      }),
      gpus: stringParameter('none, all or device=N[,M]', { allowedPattern: PARAMETER_PATTERNS.gpus, default: 'none' }),
      args: stringParameter('the simulation arguments: --flag [value] tokens', {
        allowedPattern: PARAMETER_PATTERNS.args,
        default: '',
      }),
      executionTimeout: stringParameter('seconds', {
        allowedPattern: PARAMETER_PATTERNS.executionTimeout,
        default: DEFAULT_EXECUTION_TIMEOUT,
      }),
      ...(upload
        ? {
            recordsPrefix: stringParameter("the run's own key prefix in the records bucket (action=run)", {
              allowedPattern: recordsPrefixParameterPattern(upload.prefix),
              default: '',
            }),
          }
        : {}),
    },
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'vqeContainer',
        inputs: {
          timeoutSeconds: '{{ executionTimeout }}',
          runCommand: [
            "name='{{ containerName }}'",
            `if [ '{{ action }}' = stop ]; then exec docker rm -f "$name"; fi`,
            // A container an earlier launch of this run left behind is replaced, not a name conflict.
            'docker rm -f "$name" >/dev/null 2>&1',
            ...lookups,
            `if [ '{{ gpus }}' = none ]; then set --; else set -- --gpus '"{{ gpus }}"'; fi`,
            ...(upload
              ? hostUploadLines(upload, dockerRun, imageAndArgs, Object.keys(secrets))
              : [`exec ${dockerRun} ${imageAndArgs}`]),
          ],
        },
      },
    ],
  };
}

/** The build document: `docker build` of the configured folder, tagged with the configured repository. */
export function buildDocumentContent(settings: {
  readonly image: string;
  readonly contextDir: string;
  readonly cudaArch: string;
  readonly dockerfile?: string;
}): Record<string, unknown> {
  for (const [name, path] of [
    ['contextDir', settings.contextDir],
    ['dockerfile', settings.dockerfile],
  ] as const) {
    if (path !== undefined && !HOST_PATH.test(path)) {
      throw new RangeError(
        `${name}: expected a path of letters, digits, spaces and _.@+/-, got ${JSON.stringify(path)}`,
      );
    }
  }
  const dockerfile = settings.dockerfile === undefined ? '' : ` -f ${shellQuote(settings.dockerfile)}`;
  return {
    schemaVersion: '2.2',
    description:
      'Quantum Pipeline VQE batch: builds the simulation image from the folder fixed at deploy time, ' +
      'for the given CUDA compute capability.',
    parameters: {
      image: stringParameter('the configured repository, any tag or digest', {
        allowedPattern: imageParameterPattern(settings.image),
        default: settings.image,
      }),
      cudaArch: stringParameter('CUDA compute capability such as 6.1', {
        allowedPattern: PARAMETER_PATTERNS.cudaArch,
        default: settings.cudaArch,
      }),
      executionTimeout: stringParameter('seconds', {
        allowedPattern: PARAMETER_PATTERNS.executionTimeout,
        default: DEFAULT_EXECUTION_TIMEOUT,
      }),
    },
    mainSteps: [
      {
        action: 'aws:runShellScript',
        name: 'imageBuild',
        inputs: {
          timeoutSeconds: '{{ executionTimeout }}',
          runCommand: [
            `exec docker build --build-arg 'CUDA_ARCH={{ cudaArch }}' -t '{{ image }}'${dockerfile} ${shellQuote(settings.contextDir)}`,
          ],
        },
      },
    ],
  };
}
