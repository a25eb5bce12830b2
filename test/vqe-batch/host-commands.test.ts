/**
 * What may reach the GPU host: the SSM documents (their parameters substituted and checked as SSM
 * does, then run by a real shell with a stand-in `docker`), the image reference grammar, the
 * docker run option allowlist and the argument rules.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  argumentProblems,
  buildDocumentContent,
  dockerRunOptionProblems,
  imageParameterPattern,
  imageReferenceProblem,
  runDocumentContent,
} from '../../lambdas/vqe-batch/host-commands';
import { containerNameFor } from '../../lambdas/vqe-batch/launcher';
import { LANES, runArguments, TIERS, tierRuns } from '../../lambdas/vqe-batch/plan';
import { type CommandDocument, render } from './ssm-document';

const IMAGE = 'ghcr.io/qp/vqe:1.2';
const RUN_KEY = 'gpu1/sto3g/NH3/L-BFGS-B/EfficientSU2/random/seed-1';
const NAME = containerNameFor(RUN_KEY);
const ARGS = runArguments(tierRuns(1).gpu1[0], 'data/molecules.gpu1.json');

let bin: string;
beforeEach(() => {
  // A stand-in docker: logs each call's words one per line; `rm` fails (no such container), `run` exits 3.
  bin = mkdtempSync(join(tmpdir(), 'qp-fake-docker-'));
  writeFileSync(
    join(bin, 'docker'),
    `#!/bin/sh\n{ echo '>'; for word in "$@"; do printf '%s\\n' "$word"; done; } >>"${join(bin, 'calls')}"\n` +
      `[ "$1" = rm ] && exit 1\n[ "$1" = run ] && exit 3\nexit 0\n`,
  );
  chmodSync(join(bin, 'docker'), 0o755);
});
afterEach(() => rmSync(bin, { recursive: true, force: true }));

/** Runs a rendered script in a real shell with the stand-in docker; returns its exit code and docker's calls as word lists. */
function runScript(script: string): { status: number | null; calls: string[][] } {
  const shell = spawnSync('sh', ['-c', script], {
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    encoding: 'utf8',
  });
  let log = '';
  try {
    log = readFileSync(join(bin, 'calls'), 'utf8');
  } catch {
    // no call
  }
  const calls = log
    .split('>\n')
    .filter(Boolean)
    .map((call) => call.replace(/\n$/, '').split('\n'));
  return { status: shell.status, calls };
}

describe('the run document', () => {
  const OPTIONS = ['--shm-size=8g', '-e', 'KAFKA_SERVERS=kafka:9092', '-v', '/data:/data', '--ipc=host'];
  const content = runDocumentContent({ image: IMAGE, dockerRunOptions: OPTIONS });

  it('is a schema 2.2 Command document whose every free parameter has a pattern', () => {
    // Act
    const document = content as unknown as CommandDocument;

    // Assess
    expect(document.schemaVersion).toBe('2.2');
    expect(Object.keys(document.parameters).sort()).toEqual(
      ['action', 'args', 'containerName', 'executionTimeout', 'gpus', 'image'].sort(),
    );
    expect(document.parameters.action.allowedValues).toEqual(['run', 'stop']);
    for (const [name, parameter] of Object.entries(document.parameters)) {
      if (name !== 'action') expect(parameter.allowedPattern, name).toMatch(/^\^.*\$$/);
    }
    expect(document.mainSteps[0]).toMatchObject({
      action: 'aws:runShellScript',
      inputs: { timeoutSeconds: '{{ executionTimeout }}' },
    });
  });

  it('replaces a leftover container, then runs the image on the given GPUs with the fixed options and the arguments, exiting with docker run', () => {
    // Prepare
    const script = render(content, {
      action: 'run',
      containerName: NAME,
      image: IMAGE,
      gpus: 'device=0,1',
      args: ARGS.join(' '),
      executionTimeout: '7800',
    });

    // Act
    const { status, calls } = runScript(script);

    // Assess
    expect(status).toBe(3);
    expect(calls).toEqual([
      ['rm', '-f', NAME],
      ['run', '--rm', '--name', NAME, '--gpus', '"device=0,1"', ...OPTIONS, IMAGE, ...ARGS],
    ]);
  });

  it('gives a run with gpus=none (the cpu lane) no --gpus at all', () => {
    // Prepare
    const script = render(content, { action: 'run', containerName: NAME, gpus: 'none', args: '--seed 1' });

    // Act
    const { calls } = runScript(script);

    // Assess
    expect(calls[1]).toEqual(['run', '--rm', '--name', NAME, ...OPTIONS, IMAGE, '--seed', '1']);
  });

  it('with action=stop only removes the container', () => {
    // Act
    const { status, calls } = runScript(render(content, { action: 'stop', containerName: NAME }));

    // Assess
    expect(calls).toEqual([['rm', '-f', NAME]]);
    expect(status).toBe(1);
  });

  it.each([
    ['action', 'rm'],
    ['containerName', 'qp-a;reboot-0000abcd'],
    ['containerName', "qp-a'$(id)'-0000abcd"],
    ['containerName', 'qp-a\nreboot-0000abcd'],
    ['gpus', 'all; reboot'],
    ['gpus', '"device=0"'],
    ['image', 'evil.example/miner:latest'],
    ['image', `${IMAGE} --privileged`],
    ['image', "ghcr.io/qp/vqe:1.2'$(id)'"],
    ['args', '--basis sto3g; reboot'],
    ['args', '--basis $(id)'],
    ['args', '--basis `id`'],
    ['args', '--basis sto3g\nreboot'],
    ['args', "--label 'x'"],
    ['args', '--basis  sto3g'],
    ['args', '--file /etc/*'],
    ['args', 'reboot'],
    ['executionTimeout', '1; reboot'],
  ])('refuses %s %j by its pattern, as SSM does', (name, value) => {
    // Act + Assess
    expect(() => render(content, { action: 'run', containerName: NAME, [name]: value })).toThrow(name);
  });

  it('accepts every run argument list the planner makes, with the configured extra arguments', () => {
    // Prepare
    const pattern = new RegExp((content as unknown as CommandDocument).parameters.args.allowedPattern ?? '');
    const lists = ([1, 2, 3, 4] as const).flatMap((tier) =>
      LANES.flatMap((lane) =>
        tierRuns(tier)[lane].map((run) => [
          ...runArguments(run, `data/molecules.${lane}.json`),
          '--kafka',
          '--output',
          's3://raw-results/experiments/experiment.vqe/',
        ]),
      ),
    );

    // Act
    const refused = lists.filter((args) => !pattern.test(args.join(' ')) || argumentProblems(args).length > 0);

    // Assess
    expect(lists.length).toBeGreaterThan(Object.keys(TIERS).length);
    expect(refused).toEqual([]);
  });
});

describe('the build document', () => {
  it('builds the fixed folder with the CUDA architecture, tagged with the configured repository', () => {
    // Prepare
    const content = buildDocumentContent({
      image: IMAGE,
      contextDir: '/opt/quantum pipeline',
      cudaArch: '6.1',
      dockerfile: 'docker/Dockerfile.gpu',
    });

    // Act
    const { status, calls } = runScript(render(content, { image: IMAGE, cudaArch: '8.6' }));

    // Assess
    expect(status).toBe(0);
    expect(calls).toEqual([
      ['build', '--build-arg', 'CUDA_ARCH=8.6', '-t', IMAGE, '-f', 'docker/Dockerfile.gpu', '/opt/quantum pipeline'],
    ]);
    expect(() => render(content, { cudaArch: 'sm_61; reboot' })).toThrow('cudaArch');
    expect(() => render(content, { image: 'evil/miner' })).toThrow('image');
  });

  it.each([
    ['contextDir', { contextDir: "/opt/qp'; reboot; '" }],
    ['contextDir', { contextDir: '/opt/{{ image }}' }],
    ['dockerfile', { dockerfile: '-f /etc/passwd' }],
  ])('refuses a %s that is not a plain path', (name, change) => {
    expect(() => buildDocumentContent({ image: IMAGE, contextDir: '/opt/qp', cudaArch: '6.1', ...change })).toThrow(
      name,
    );
  });
});

describe('image references', () => {
  it.each([
    'quantum-pipeline-simulation:latest-gpu',
    'ghcr.io/qp/vqe:1.2',
    'localhost:5000/qp/vqe',
    `123456789012.dkr.ecr.eu-west-1.amazonaws.com/qp/vqe@sha256:${'a'.repeat(64)}`,
    `qp/vqe:gpu@sha256:${'0'.repeat(64)}`,
  ])('accepts %s', (image) => {
    expect(imageReferenceProblem(image)).toBeUndefined();
  });

  it.each([
    '--privileged',
    '-v',
    '',
    'Qp/Vqe',
    'qp/vqe:1.2 --privileged',
    'qp/vqe;reboot',
    'qp/vqe:$(id)',
    'qp/vqe@sha256:short',
  ])('refuses %j', (image) => {
    expect(imageReferenceProblem(image)).toMatch(/expected an image reference/);
  });

  it('lets the image parameter take the configured repository with any tag or digest, and no other repository', () => {
    // Prepare
    const pattern = new RegExp(imageParameterPattern('ghcr.io/qp/vqe:1.2'));

    // Act + Assess
    expect(
      ['ghcr.io/qp/vqe', 'ghcr.io/qp/vqe:1.3', `ghcr.io/qp/vqe@sha256:${'b'.repeat(64)}`].map((v) => pattern.test(v)),
    ).toEqual([true, true, true]);
    expect(
      ['ghcr.io/qp/vqe2:1.2', 'ghcrXio/qp/vqe:1.2', 'ghcr.io/qp/vqe:1.2 -v', 'evil/ghcr.io/qp/vqe'].map((v) =>
        pattern.test(v),
      ),
    ).toEqual([false, false, false, false]);
  });
});

describe('docker run options', () => {
  it('accepts the allowlisted options in both spellings', () => {
    // Act
    const problems = dockerRunOptionProblems([
      '--shm-size=8g',
      '--ipc=host',
      '--ulimit',
      'memlock=-1:-1',
      '--network=host',
      '-e',
      'KAFKA_SERVERS=kafka:9092',
      '-e',
      'HF_TOKEN',
      '--env-file=/etc-qp/vqe.env',
      '-v',
      '/data:/data:ro',
      '--volume=qp-cache:/cache',
      '--user',
      '1000:1000',
      '--init',
    ]);

    // Assess
    expect(problems).toEqual([]);
  });

  it.each([
    [['--privileged'], 0, 'not an allowed docker run option'],
    [['--cap-add=SYS_ADMIN'], 0, 'not an allowed docker run option'],
    [['--device', '/dev/nvidia0'], 0, 'not an allowed docker run option'],
    [['--pid=host'], 0, 'not an allowed docker run option'],
    [['--gpus', 'all'], 0, 'not an allowed docker run option'],
    [['--entrypoint', 'sh'], 0, 'not an allowed docker run option'],
    [['--shm-size=8g', '-v', '/:/host'], 1, "-v: mounts the host's root folder"],
    [['-v', '/var/run/docker.sock:/var/run/docker.sock'], 0, "mounts the host's /var/run folder"],
    [['--volume=//etc/:/etc:ro'], 0, "mounts the host's /etc folder"],
    [['-v', '/data/../etc:/x'], 0, 'expected an absolute SOURCE path'],
    [['--network=container:other'], 0, '--network: expected a network name'],
    [['--ipc=container:other'], 0, '--ipc: expected host, private, shareable or none'],
    [['-e'], 0, '-e needs a value'],
    [['--init=false'], 0, '--init takes no value'],
    [['-e', 'A=$(id)'], 0, '-e: expected a value of letters'],
  ])('refuses %j at entry %i: %s', (options, index, message) => {
    // Act
    const [problem, ...more] = dockerRunOptionProblems(options);

    // Assess
    expect(more).toEqual([]);
    expect(problem).toMatchObject({ index, message: expect.stringContaining(message) });
  });

  it.each([
    [['-e', 'GITHUB_TOKEN=ghp_topsecret'], 'GITHUB_TOKEN', '-e GITHUB_TOKEN=***'],
    [['--env=AWS_SECRET_ACCESS_KEY=abc/topsecret'], 'AWS_SECRET_ACCESS_KEY', '--env=AWS_SECRET_ACCESS_KEY=***'],
    [['--env', 'DB_PASSWORD=topsecret'], 'DB_PASSWORD', '--env DB_PASSWORD=***'],
    [['-e', 'R2_CREDENTIALS=topsecret'], 'R2_CREDENTIALS', '-e R2_CREDENTIALS=***'],
    [['-e', 'api_key=topsecret'], 'api_key', '-e api_key=***'],
  ])('refuses the inline secret in %j, naming %s and masking the value', (options, name, shown) => {
    // Act
    const [problem] = dockerRunOptionProblems(options);

    // Assess
    expect(problem.message).toContain(`${name} looks like a secret and must not be inline`);
    expect(problem.shown).toBe(shown);
    expect(JSON.stringify(problem)).not.toContain('topsecret');
  });
});

describe('simulation arguments', () => {
  it.each([
    [['--kafka-password', 'topsecret'], 1, 'the value of --kafka-password looks like a secret'],
    [['--token=topsecret'], 0, 'token looks like a secret'],
    [['--kafka', 'a b'], 1, 'expected a --flag or a value'],
    [['--kafka', '$(id)'], 1, 'expected a --flag or a value'],
    [['sto3g'], 0, 'expected a --flag before this value'],
    [['-x'], 0, 'expected a --flag or a value'],
  ])('refuses %j at %i: %s', (args, index, message) => {
    // Act
    const [problem] = argumentProblems(args);

    // Assess
    expect(problem).toMatchObject({ index, message: expect.stringContaining(message) });
    expect(JSON.stringify(problem)).not.toContain('topsecret');
  });

  it('accepts flags with and without values', () => {
    expect(argumentProblems(['--kafka', '--kafka-servers', 'kafka:9092', '--output', 's3://b/p/'])).toEqual([]);
  });
});
