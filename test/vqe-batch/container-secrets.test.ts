/**
 * Container secrets read on the GPU host: the run document's own script lines, parameters
 * substituted as SSM does, run by a real /bin/sh with stand-in `aws` and `docker` executables first
 * on PATH. The stand-ins record their arguments and environment, so the tests see what the
 * container would get and what any process list or log could have shown.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  type ContainerSecrets,
  containerSecretProblems,
  dockerEnvNames,
  SECRET_LOOKUP_EXIT_CODE,
} from '../../lambdas/vqe-batch/container-secrets';
import { runDocumentContent } from '../../lambdas/vqe-batch/host-commands';
import { containerNameFor } from '../../lambdas/vqe-batch/launcher';

const IMAGE = 'ghcr.io/qp/vqe:1.2';
const NAME = containerNameFor('gpu1/sto3g/H2/L-BFGS-B/EfficientSU2/random/seed-1');
/** Values a careless script would mangle or expose: spaces, quotes, $, a glob, a second line. */
const DB_VALUE = `pa ss'w"o$rd * \`x\`\nline two`;
const TOKEN_VALUE = 'tok-12345-secret';
const KEY_VALUE = 'AKIAEXAMPLEVALUE';

interface RunStep {
  readonly inputs: { readonly runCommand: string[] };
}

/** The run script as SSM substitutes it (parameters already pattern-checked elsewhere). */
function script(secrets: ContainerSecrets, options: readonly string[] = ['--shm-size', '2g']): string {
  const content = runDocumentContent({
    image: IMAGE,
    dockerRunOptions: options,
    containerSecrets: secrets,
    region: 'eu-west-1',
  }) as { parameters: Record<string, { default?: string }>; mainSteps: RunStep[] };
  const values: Record<string, string> = {
    action: 'run',
    containerName: NAME,
    image: IMAGE,
    gpus: 'device=0',
    args: '--file data/m.json',
    executionTimeout: '600',
  };
  return content.mainSteps[0].inputs.runCommand
    .join('\n')
    .replace(/\{\{ *([A-Za-z]+) *\}\}/g, (_whole, name: string) => values[name]);
}

let bin: string;
beforeEach(() => {
  bin = mkdtempSync(join(tmpdir(), 'qp-fake-host-'));
  // Each call of a stand-in leaves <tool>-<n>.argv (one word a line) and <tool>-<n>.env (its environment).
  const record = (tool: string) =>
    `n=$(ls "${bin}" | grep -c "^${tool}-.*argv$")\n` +
    `for word in "$@"; do printf '%s\\n' "$word"; done >"${bin}/${tool}-$n.argv"\n` +
    `env >"${bin}/${tool}-$n.env"\n`;
  writeFileSync(
    join(bin, 'aws'),
    `#!/bin/sh\n${record('aws')}` +
      // The secrets the stand-in account holds; anything else is "not found", as the CLI says it.
      `case "$*" in\n` +
      `  *"--secret-id prod/db "*) printf '%s\\n' "$QP_TEST_DB_VALUE" ;;\n` +
      `  *"--name /qp/api-token "*) printf '%s\\n' '${TOKEN_VALUE}' ;;\n` +
      `  *"--secret-id ci/aws-key "*) printf '%s\\n' '${KEY_VALUE}' ;;\n` +
      `  *) echo 'An error occurred (ResourceNotFoundException) when calling the operation: not found' >&2; exit 254 ;;\n` +
      `esac\n`,
  );
  writeFileSync(join(bin, 'docker'), `#!/bin/sh\n${record('docker')}exit 0\n`);
  chmodSync(join(bin, 'aws'), 0o755);
  chmodSync(join(bin, 'docker'), 0o755);
});
afterEach(() => rmSync(bin, { recursive: true, force: true }));

/** Runs a script in /bin/sh with the stand-ins first on PATH; the DB secret's value reaches the stand-in aws only. */
function run(text: string): { status: number | null; stderr: string } {
  const shell = spawnSync('/bin/sh', ['-c', text], {
    env: { PATH: `${bin}:/usr/bin:/bin`, QP_TEST_DB_VALUE: DB_VALUE },
    encoding: 'utf8',
  });
  return { status: shell.status, stderr: shell.stderr };
}

/** The recorded calls of one stand-in, in order: argv words and environment. */
function calls(tool: 'aws' | 'docker'): Array<{ argv: string[]; env: string }> {
  const count = readdirSync(bin).filter((file) => file.startsWith(`${tool}-`) && file.endsWith('.argv')).length;
  return Array.from({ length: count }, (_unused, n) => ({
    argv: readFileSync(join(bin, `${tool}-${n}.argv`), 'utf8')
      .replace(/\n$/, '')
      .split('\n'),
    env: readFileSync(join(bin, `${tool}-${n}.env`), 'utf8'),
  }));
}

describe('container secrets on the GPU host', () => {
  it('reads each secret with the host AWS CLI and hands it to docker through the environment, never on a command line', () => {
    // Prepare
    const text = script({ DB_PASSWORD: { secretsManager: 'prod/db' }, API_TOKEN: { ssmParameter: '/qp/api-token' } });

    // Act
    const { status } = run(text);

    // Assess
    expect(status).toBe(0);
    expect(calls('aws').map((call) => call.argv)).toEqual([
      [
        ...['secretsmanager', 'get-secret-value', '--region', 'eu-west-1', '--secret-id', 'prod/db'],
        ...['--query', 'SecretString', '--output', 'text'],
      ],
      [
        ...['ssm', 'get-parameter', '--region', 'eu-west-1', '--name', '/qp/api-token', '--with-decryption'],
        ...['--query', 'Parameter.Value', '--output', 'text'],
      ],
    ]);
    const [remove, start] = calls('docker');
    expect(remove.argv).toEqual(['rm', '-f', NAME]);
    expect(start.argv).toEqual([
      ...['run', '--rm', '--name', NAME, '--gpus', '"device=0"', '--shm-size', '2g'],
      ...['-e', 'DB_PASSWORD', '-e', 'API_TOKEN', IMAGE, '--file', 'data/m.json'],
    ]);
    // The value as the container would get it (docker copies -e NAME from its own environment).
    expect(start.env).toContain(`DB_PASSWORD=${DB_VALUE}\n`);
    expect(start.env).toContain(`API_TOKEN=${TOKEN_VALUE}\n`);
    const argvText = [...calls('aws'), ...calls('docker')].map((call) => call.argv.join(' ')).join('\n');
    for (const value of [DB_VALUE, TOKEN_VALUE, 'pa ss', 'line two']) expect(argvText).not.toContain(value);
    expect(text).not.toContain('pa ss');
  });

  it('reads every secret before exporting any, so a secret named AWS_* does not change the later lookups', () => {
    // Prepare
    const text = script({
      AWS_ACCESS_KEY_ID: { secretsManager: 'ci/aws-key' },
      DB_PASSWORD: { secretsManager: 'prod/db' },
    });

    // Act
    const { status } = run(text);

    // Assess
    expect(status).toBe(0);
    expect(calls('aws')).toHaveLength(2);
    for (const lookup of calls('aws')) expect(lookup.env).not.toContain(KEY_VALUE);
    expect(calls('docker')[1].env).toContain(`AWS_ACCESS_KEY_ID=${KEY_VALUE}\n`);
  });

  it('ends the run with its own exit code and a message naming the variable and the secret when a lookup fails, starting no container', () => {
    // Prepare
    const text = script({ DB_PASSWORD: { secretsManager: 'prod/db' }, MISSING: { ssmParameter: '/qp/gone' } });

    // Act
    const { status, stderr } = run(text);

    // Assess
    expect(SECRET_LOOKUP_EXIT_CODE).toBe(97);
    expect(status).toBe(SECRET_LOOKUP_EXIT_CODE);
    expect(stderr).toContain('ResourceNotFoundException');
    expect(stderr).toContain(
      'container secret MISSING: cannot read SSM parameter /qp/gone on this host (see the aws error above); no container was started',
    );
    expect(stderr).not.toContain(DB_VALUE);
    expect(calls('docker').map((call) => call.argv[0])).toEqual(['rm']);
  });

  it('reads a secret given by its complete ARN in the ARN region', () => {
    // Prepare
    const arn = 'arn:aws:secretsmanager:us-west-2:123456789012:secret:prod/db-AbCdEf';

    // Act
    const { status } = run(script({ DB_PASSWORD: { secretsManager: arn } }));

    // Assess
    expect(status).toBe(SECRET_LOOKUP_EXIT_CODE); // the stand-in account knows the secret by name only
    expect(calls('aws')[0].argv.slice(0, 6)).toEqual([
      ...['secretsmanager', 'get-secret-value', '--region', 'us-west-2', '--secret-id', arn],
    ]);
  });
});

describe('container secret checks', () => {
  it.each([
    [
      { '1BAD': { secretsManager: 'x' } },
      [],
      'batch.containerSecrets: expected an environment variable name [A-Za-z_][A-Za-z0-9_]*, got "1BAD"',
    ],
    [{ PATH: { secretsManager: 'x' } }, [], 'batch.containerSecrets: PATH is read by the run script or docker itself'],
    [{ DOCKER_HOST: { secretsManager: 'x' } }, [], 'got "DOCKER_HOST"'],
    [{ name: { secretsManager: 'x' } }, [], 'got "name"'],
    [{ DB: { secretsManager: "it's" } }, [], `batch.containerSecrets.DB.secretsManager: expected a secret name`],
    [{ DB: { secretsManager: 'x{{ y }}' } }, [], 'got "x{{ y }}"'],
    [
      { DB: { secretsManager: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:db' } },
      [],
      'complete secret ARN (with its 6-character suffix), got "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db"',
    ],
    [
      { DB: { ssmParameter: 'a b' } },
      [],
      'batch.containerSecrets.DB.ssmParameter: expected a parameter name of letters, digits and _.- in /-separated parts, got "a b"',
    ],
    [{ DB: { ssmParameter: '/qp/$(id)' } }, [], 'got "/qp/$(id)"'],
    [
      { DB: { ssmParameter: 'p', secretsManager: 's' } },
      [],
      'batch.containerSecrets.DB: expected {"secretsManager": "<name or ARN>"} or {"ssmParameter": "<SecureString name>"}',
    ],
    [
      { DB: { secretsManager: 's' } },
      ['-e', 'DB=1'],
      'batch.containerSecrets.DB: the docker run options set DB with -e as well; keep one of the two, got "DB"',
    ],
    [{ DB: { secretsManager: 's' } }, ['--env=DB'], 'the docker run options set DB with -e as well'],
  ] as const)('refuses %j (options %j)', (secrets, options, message) => {
    // Act
    const problems = containerSecretProblems('batch.containerSecrets', secrets as ContainerSecrets, options);

    // Assess
    expect(problems.join('; ')).toContain(message);
  });

  it('accepts names, complete ARNs and parameter names, and finds every -e/--env name of the options', () => {
    // Prepare
    const secrets = {
      DB_PASSWORD: { secretsManager: 'prod/db' },
      ARN_SECRET: { secretsManager: 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf' },
      API_TOKEN: { ssmParameter: '/qp/api-token' },
      plain: { ssmParameter: 'qp.token' },
    };

    // Act
    const problems = containerSecretProblems('batch.containerSecrets', secrets, [
      '-e',
      'LOG=1',
      '--env',
      'A',
      '--env=B=2',
    ]);

    // Assess
    expect(problems).toEqual([]);
    expect(dockerEnvNames(['-e', 'LOG=1', '--env', 'A', '--env=B=2', '-v', '/d:/d'])).toEqual(['LOG', 'A', 'B']);
  });

  it('refuses to build a run document with secrets but no region', () => {
    // Act
    const build = () =>
      runDocumentContent({ image: IMAGE, dockerRunOptions: [], containerSecrets: { DB: { secretsManager: 'db' } } });

    // Assess
    expect(build).toThrow('region: required with containerSecrets');
  });
});
