/**
 * Secrets the simulation container gets in its environment without their values ever leaving
 * AWS's secret stores before the run: the run document reads each one on the GPU host, with the
 * host's own AWS CLI and credentials, right before `docker run`, and passes `-e NAME` without a
 * value, so docker copies it from the shell's environment. Only the variable names and the
 * secrets' names are in the template, the document, the Lambdas' settings and SSM's command
 * history; the values are on no command line.
 *
 * SDK-free: the CDK app (through contract.ts) and the tests import it.
 */

/** Where a container secret is read from: a Secrets Manager secret's SecretString, or a SecureString parameter. */
export type ContainerSecretSource = { readonly secretsManager: string } | { readonly ssmParameter: string };

/** Container environment variable name -> where its value is read from on the host. */
export type ContainerSecrets = Readonly<Record<string, ContainerSecretSource>>;

/** The run script's exit code when a container secret cannot be read: no container was started. */
export const SECRET_LOOKUP_EXIT_CODE = 97;

/** At most this many secrets: each one is a line of the run document, which SSM caps at 64 KB. */
export const MAX_CONTAINER_SECRETS = 50;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_NAME = /^[A-Za-z0-9/_+=.@-]{1,512}$/;
/** A complete secret ARN, as Secrets Manager shows it: the name and its 6-character suffix. */
const SECRET_ARN =
  /^arn:aws(?:-[a-z]+)*:secretsmanager:([a-z]{2}(?:-[a-z]+)+-[0-9]):[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]{1,512}-[A-Za-z0-9]{6}$/;
/** A parameter name: letters, digits and _.- in /-separated parts (a leading / optional). */
const PARAMETER_NAME = /^\/?[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
const MAX_PARAMETER_NAME = 2048;

/**
 * Names the run script or its tools read: the script's own variables (`name`, `qp_*`), what
 * changes how the shell runs it (PATH, IFS, ENV, ...), and the docker CLI's settings (DOCKER_*),
 * which an exported secret would otherwise change under `docker run`.
 */
const RESERVED_NAMES = new Set(['name', 'PATH', 'IFS', 'ENV', 'HOME', 'CDPATH', 'PS1', 'PS2', 'PS4', 'SHELL', 'PWD']);
const RESERVED_PREFIXES = ['qp_', 'DOCKER_', 'LD_', 'BASH_'];

function reservedName(name: string): boolean {
  return RESERVED_NAMES.has(name) || RESERVED_PREFIXES.some((prefix) => name.startsWith(prefix));
}

/** The region in a complete secret ARN, or undefined for a name. */
function arnRegion(secretId: string): string | undefined {
  return SECRET_ARN.exec(secretId)?.[1];
}

/** Whether a Secrets Manager reference is a complete ARN rather than a name. */
export function isSecretArn(secretId: string): boolean {
  return secretId.startsWith('arn:');
}

/** The names `-e`/`--env` set in `docker run` options (NAME or NAME=value). */
export function dockerEnvNames(options: readonly string[]): string[] {
  const names: string[] = [];
  options.forEach((option, index) => {
    const value =
      option === '-e' || option === '--env'
        ? options[index + 1]
        : option.startsWith('--env=')
          ? option.slice('--env='.length)
          : undefined;
    if (value !== undefined) names.push(value.split('=')[0]);
  });
  return names;
}

/**
 * Problems of the container secrets, each naming the field (`<label>.<NAME>...`) and the value:
 * environment names, secret names or complete ARNs, parameter names, and no variable that the
 * `docker run` options set with `-e` as well.
 */
export function containerSecretProblems(
  label: string,
  secrets: ContainerSecrets,
  dockerRunOptions: readonly string[],
): string[] {
  const problems: string[] = [];
  const entries = Object.entries(secrets);
  if (entries.length > MAX_CONTAINER_SECRETS) {
    problems.push(`${label}: at most ${MAX_CONTAINER_SECRETS} secrets, got ${entries.length}`);
  }
  const optionNames = new Set(dockerEnvNames(dockerRunOptions));
  for (const [name, source] of entries) {
    const field = `${label}.${name}`;
    if (!ENV_NAME.test(name)) {
      problems.push(
        `${label}: expected an environment variable name [A-Za-z_][A-Za-z0-9_]*, got ${JSON.stringify(name)}`,
      );
      continue;
    }
    if (reservedName(name)) {
      problems.push(
        `${label}: ${name} is read by the run script or docker itself (PATH, IFS, HOME, name, qp_*, DOCKER_*, LD_*, ...), got ${JSON.stringify(name)}`,
      );
    }
    if (optionNames.has(name)) {
      problems.push(
        `${field}: the docker run options set ${name} with -e as well; keep one of the two, got ${JSON.stringify(name)}`,
      );
    }
    const keys = Object.keys(source ?? {});
    if ('secretsManager' in source && keys.length === 1) {
      const id = source.secretsManager;
      if (isSecretArn(id) ? !SECRET_ARN.test(id) : !SECRET_NAME.test(id)) {
        problems.push(
          `${field}.secretsManager: expected a secret name (letters, digits and /_+=.@-) or a complete secret ARN (with its 6-character suffix), got ${JSON.stringify(id)}`,
        );
      }
    } else if ('ssmParameter' in source && keys.length === 1) {
      const parameter = source.ssmParameter;
      if (!PARAMETER_NAME.test(parameter) || parameter.length > MAX_PARAMETER_NAME) {
        problems.push(
          `${field}.ssmParameter: expected a parameter name of letters, digits and _.- in /-separated parts, got ${JSON.stringify(parameter)}`,
        );
      }
    } else {
      problems.push(
        `${field}: expected {"secretsManager": "<name or ARN>"} or {"ssmParameter": "<SecureString name>"}, got ${JSON.stringify(source)}`,
      );
    }
  }
  return problems;
}

/** A shell word for a value the checks above admitted (no quote can be in it). */
const quoted = (value: string) => `'${value}'`;

/**
 * The run script's lines that read the secrets on the host, for the run document: each value
 * into a private shell variable first (so a secret named AWS_* cannot change the credentials of
 * the lookups after it), then all of them exported under their names. A lookup that fails ends
 * the script with SECRET_LOOKUP_EXIT_CODE and a message naming the variable and the secret.
 * @param region the stack's region; a secret given by ARN is read in the ARN's region
 */
export function secretLookupLines(secrets: ContainerSecrets, region: string): string[] {
  const problems = containerSecretProblems('containerSecrets', secrets, []);
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  const entries = Object.entries(secrets);
  const lookups = entries.map(([name, source], index) => {
    const variable = `qp_secret_${index}`;
    const [command, what] =
      'secretsManager' in source
        ? [
            `aws secretsmanager get-secret-value --region ${quoted(arnRegion(source.secretsManager) ?? region)} --secret-id ${quoted(source.secretsManager)} --query SecretString --output text`,
            `Secrets Manager secret ${source.secretsManager}`,
          ]
        : [
            `aws ssm get-parameter --region ${quoted(region)} --name ${quoted(source.ssmParameter)} --with-decryption --query Parameter.Value --output text`,
            `SSM parameter ${source.ssmParameter}`,
          ];
    const message = `container secret ${name}: cannot read ${what} on this host (see the aws error above); no container was started`;
    return `${variable}=$(${command}) || { echo ${quoted(message)} >&2; exit ${SECRET_LOOKUP_EXIT_CODE}; }`;
  });
  const exports = entries.map(([name], index) => `export ${name}="$qp_secret_${index}"`);
  return [...lookups, ...exports];
}

/** The `docker run` options that pass the secrets on: `-e NAME`, no value. */
export function secretEnvOptions(secrets: ContainerSecrets): string[] {
  return Object.keys(secrets).flatMap((name) => ['-e', name]);
}
