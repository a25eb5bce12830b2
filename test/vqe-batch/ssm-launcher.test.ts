/** The SSM Run Command launcher, mocked at the SDK boundary; shell quoting checked against a real shell. */
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  CancelCommandCommand,
  type CommandInvocationStatus,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  InvalidCommandId,
  InvalidInstanceId,
  InvocationDoesNotExist,
  SendCommandCommand,
  SSMClient,
  SSMServiceException,
} from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LauncherUnavailableError, RunLaunchError } from '../../lambdas/core/errors';
import { containerNameFor, type RunHandle, shellQuote } from '../../lambdas/vqe-batch/launcher';
import { SsmLauncher, type SsmLauncherSettings } from '../../lambdas/vqe-batch/launchers/ssm';

const ssm = mockClient(SSMClient);
beforeEach(() => ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'cmd-1' } }));
afterEach(() => ssm.reset());

const RUN_KEY = 'gpu1/sto3g/NH3/L-BFGS-B/EfficientSU2/random/seed-1';
const ARGS = ['--molecule', 'NH3', '--basis', 'sto3g', '--optimizer', 'L-BFGS-B', '--label', "it's a run"];
const HANDLE: RunHandle = {
  kind: 'ssm',
  commandId: 'cmd-1',
  instanceId: 'i-0abc',
  containerName: containerNameFor(RUN_KEY),
};

function launcher(settings: Partial<SsmLauncherSettings> = {}): SsmLauncher {
  return new SsmLauncher(new SSMClient({ region: 'eu-west-1' }), {
    target: { instanceId: 'i-0abc' },
    image: 'ghcr.io/qp/vqe:1.2',
    commandTimeoutSeconds: 7200,
    ...settings,
  });
}

function serviceError(name: string, extra: Record<string, unknown> = {}): SSMServiceException {
  return Object.assign(
    new SSMServiceException({
      name,
      $fault: 'client',
      $metadata: { httpStatusCode: 400 },
      message: `${name} happened`,
    }),
    extra,
  );
}

describe('SsmLauncher.launch', () => {
  it('sends one quoted docker run line to the configured instance with the execution timeout', async () => {
    // Prepare
    const subject = launcher({
      dockerRunOptions: ['-e', 'KAFKA_SERVERS=kafka:9092', '-v', '/data:/data'],
      cloudWatchLogGroup: '/qp/vqe',
    });

    // Act
    const handle = await subject.launch({ runKey: RUN_KEY, args: ARGS });

    // Assess
    expect(handle).toEqual({
      kind: 'ssm',
      commandId: 'cmd-1',
      instanceId: 'i-0abc',
      containerName: containerNameFor(RUN_KEY),
    });
    const [call] = ssm.commandCalls(SendCommandCommand);
    const input = call.args[0].input;
    expect(input).toMatchObject({
      DocumentName: 'AWS-RunShellScript',
      InstanceIds: ['i-0abc'],
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '/qp/vqe', CloudWatchOutputEnabled: true },
    });
    expect(input.Parameters?.executionTimeout).toEqual(['7200']);
    const [line] = input.Parameters?.commands ?? [];
    const name = containerNameFor(RUN_KEY);
    expect(line).toBe(
      `docker rm -f ${name} >/dev/null 2>&1; ` +
        `docker run --rm --name ${name} --gpus all -e KAFKA_SERVERS=kafka:9092 -v /data:/data ghcr.io/qp/vqe:1.2 ` +
        `--molecule NH3 --basis sto3g --optimizer L-BFGS-B --label 'it'"'"'s a run'`,
    );
    expect(input.Comment!.length).toBeLessThanOrEqual(100);
  });

  it.each([0, 3])(
    "runs a line that replaces a leftover container and exits with docker run's code (%i) in a real shell",
    async (runExit) => {
      // Prepare: a stand-in `docker` that logs its words; `rm` fails as with no such container
      const bin = mkdtempSync(join(tmpdir(), 'qp-fake-docker-'));
      const log = join(bin, 'calls.log');
      writeFileSync(
        join(bin, 'docker'),
        `#!/bin/sh\necho "$*" >>"${log}"\n[ "$1" = rm ] && { echo 'No such container' >&2; exit 1; }\nexit ${runExit}\n`,
      );
      chmodSync(join(bin, 'docker'), 0o755);
      await launcher().launch({ runKey: RUN_KEY, args: ARGS });
      const [line] = ssm.commandCalls(SendCommandCommand)[0].args[0].input.Parameters?.commands ?? [];

      // Act
      const shell = spawnSync('sh', ['-c', line], {
        env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
        encoding: 'utf8',
      });

      // Assess
      const name = containerNameFor(RUN_KEY);
      expect(shell.status).toBe(runExit);
      expect(shell.stderr).toBe('');
      expect(readFileSync(log, 'utf8').split('\n')).toEqual([
        `rm -f ${name}`,
        `run --rm --name ${name} --gpus all ghcr.io/qp/vqe:1.2 ${ARGS.join(' ')}`,
        '',
      ]);
      rmSync(bin, { recursive: true, force: true });
    },
  );

  it('cuts a long run key in the comment to 100 characters and leaves out CloudWatch when no log group is set', async () => {
    // Act
    await launcher({ gpus: '"device=0"' }).launch({ runKey: `cpu/${'x'.repeat(200)}`, args: [] });

    // Assess
    const input = ssm.commandCalls(SendCommandCommand)[0].args[0].input;
    expect(input.Comment).toHaveLength(100);
    expect(input.CloudWatchOutputConfig).toBeUndefined();
    expect(input.Parameters?.commands?.[0]).toContain(`--gpus '"device=0"' ghcr.io/qp/vqe:1.2`);
  });

  it('resolves a tag to the first online instance in sorted order across pages, sending the online filter', async () => {
    // Prepare
    ssm
      .on(DescribeInstanceInformationCommand)
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'mi-0zzz' }], NextToken: 'page-2' })
      .resolvesOnce({ InstanceInformationList: [{ InstanceId: 'i-0bbb' }, { InstanceId: 'i-0aaa' }] });

    // Act
    const handle = await launcher({ target: { tag: { key: 'qp-role', value: 'gpu' } } }).launch({
      runKey: RUN_KEY,
      args: [],
    });

    // Assess
    expect(handle).toMatchObject({ instanceId: 'i-0aaa' });
    const pages = ssm.commandCalls(DescribeInstanceInformationCommand).map((c) => c.args[0].input);
    expect(pages).toHaveLength(2);
    expect(pages[0].Filters).toEqual([
      { Key: 'tag:qp-role', Values: ['gpu'] },
      { Key: 'PingStatus', Values: ['Online'] },
    ]);
    expect(pages[1].NextToken).toBe('page-2');
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.InstanceIds).toEqual(['i-0aaa']);
  });

  it('fails the run naming the tag when no instance with it is online', async () => {
    // Prepare
    ssm.on(DescribeInstanceInformationCommand).resolves({ InstanceInformationList: [] });

    // Act
    const launching = launcher({ target: { tag: { key: 'qp-role', value: 'gpu' } } }).launch({
      runKey: RUN_KEY,
      args: [],
    });

    // Assess
    await expect(launching).rejects.toBeInstanceOf(RunLaunchError);
    await expect(launching).rejects.toThrow('qp-role=gpu');
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it.each([
    ['throttling by name', serviceError('ThrottlingException')],
    ['an internal server error', serviceError('InternalServerError', { $fault: 'server' })],
    ['an error the SDK marks retryable', serviceError('SomethingNew', { $retryable: { throttling: false } })],
    ['a network error', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' })],
  ])('maps %s to LauncherUnavailableError with the cause', async (_label, error) => {
    // Prepare
    ssm.on(SendCommandCommand).rejects(error);

    // Act
    const launching = launcher().launch({ runKey: RUN_KEY, args: [] });

    // Assess
    await expect(launching).rejects.toMatchObject({ name: 'LauncherUnavailableError', cause: error });
    await expect(launching).rejects.toBeInstanceOf(LauncherUnavailableError);
  });

  it('maps an invalid instance to RunLaunchError naming the instance and the SDK error', async () => {
    // Prepare
    const refusal = new InvalidInstanceId({
      message: 'Instances [i-0abc] not in a valid state',
      $metadata: { httpStatusCode: 400 },
    });
    ssm.on(SendCommandCommand).rejects(refusal);

    // Act
    const launching = launcher().launch({ runKey: RUN_KEY, args: [] });

    // Assess
    await expect(launching).rejects.toMatchObject({ name: 'RunLaunchError', cause: refusal });
    await expect(launching).rejects.toThrow(/i-0abc.*InvalidInstanceId/);
  });

  it('maps a refused tag lookup to RunLaunchError naming the tag', async () => {
    // Prepare
    ssm.on(DescribeInstanceInformationCommand).rejects(serviceError('InvalidFilterKey'));

    // Act
    const launching = launcher({ target: { tag: { key: 'qp-role', value: 'gpu' } } }).launch({
      runKey: RUN_KEY,
      args: [],
    });

    // Assess
    await expect(launching).rejects.toMatchObject({
      name: 'RunLaunchError',
      message: expect.stringContaining('tag qp-role=gpu'),
    });
  });
});

describe('SsmLauncher.status', () => {
  const TIMED_OUT = 'SSM command timed out (executionTimeout)';
  it.each([
    ['Pending', {}, { state: 'running' }],
    ['InProgress', {}, { state: 'running' }],
    ['Delayed', {}, { state: 'running' }],
    ['Cancelling', {}, { state: 'running' }],
    ['Success', { ResponseCode: 0 }, { state: 'exited', exitCode: 0, stderrTail: 'warn\n' }],
    ['Failed', { ResponseCode: 3 }, { state: 'exited', exitCode: 3, stderrTail: 'warn\n' }],
    ['Failed', { ResponseCode: -1 }, { state: 'exited', exitCode: 1, stderrTail: 'warn\n' }],
    ['Failed', {}, { state: 'exited', exitCode: 1, stderrTail: 'warn\n' }],
    ['TimedOut', { ResponseCode: -1 }, { state: 'exited', exitCode: 124, detail: TIMED_OUT }],
    ['TimedOut', { StatusDetails: 'ExecutionTimedOut' }, { state: 'exited', exitCode: 124, detail: TIMED_OUT }],
    ['Failed', { StatusDetails: 'Execution Timed Out' }, { state: 'exited', exitCode: 124, detail: TIMED_OUT }],
    ['Cancelled', {}, { state: 'exited', exitCode: 130, detail: 'SSM command cancelled' }],
    [
      'Failed',
      { StatusDetails: 'Undeliverable' },
      { state: 'exited', exitCode: 1, detail: expect.stringContaining('Undeliverable') },
    ],
    [
      'Failed',
      { StatusDetails: 'Terminated' },
      { state: 'exited', exitCode: 1, detail: expect.stringContaining('Terminated') },
    ],
    [
      'TimedOut',
      { StatusDetails: 'DeliveryTimedOut' },
      { state: 'exited', exitCode: 1, detail: expect.stringContaining('DeliveryTimedOut') },
    ],
    [
      'Undeliverable',
      { StatusDetails: 'Undeliverable' },
      { state: 'exited', exitCode: 1, detail: expect.stringContaining('Undeliverable') },
    ],
    ['Terminated', {}, { state: 'exited', exitCode: 1, detail: expect.stringContaining('Terminated') }],
    ['SomethingNew', {}, { state: 'exited', exitCode: 1, detail: expect.stringContaining('SomethingNew') }],
  ] as const)('maps %s %j', async (Status, extra, expected) => {
    // Prepare
    ssm.on(GetCommandInvocationCommand, { CommandId: 'cmd-1', InstanceId: 'i-0abc' }).resolves({
      // Undeliverable and Terminated are not in the SDK's enum but can reach the client as text.
      Status: Status as CommandInvocationStatus,
      StandardErrorContent: 'warn\n',
      ...extra,
    });

    // Act
    const status = await launcher().status(HANDLE);

    // Assess
    expect(status).toEqual(expected.state === 'running' ? expected : { stderrTail: 'warn\n', ...expected });
  });

  it('keeps only the tail of a long stderr', async () => {
    // Prepare
    ssm
      .on(GetCommandInvocationCommand)
      .resolves({ Status: 'Failed', ResponseCode: 2, StandardErrorContent: `${'a'.repeat(5000)}END` });

    // Act
    const status = await launcher().status(HANDLE);

    // Assess
    expect(status.state === 'exited' && status.stderrTail).toMatch(/^a+END$/);
    expect(status.state === 'exited' && status.stderrTail.length).toBe(4000);
  });

  it('reports a run whose invocation is not registered yet as running', async () => {
    // Prepare
    ssm
      .on(GetCommandInvocationCommand)
      .rejects(new InvocationDoesNotExist({ message: '', $metadata: { httpStatusCode: 400 } }));

    // Act / Assess
    await expect(launcher().status(HANDLE)).resolves.toEqual({ state: 'running' });
  });

  it('retries a throttled status poll through LauncherUnavailableError', async () => {
    // Prepare
    ssm.on(GetCommandInvocationCommand).rejects(serviceError('ThrottlingException'));

    // Act / Assess
    await expect(launcher().status(HANDLE)).rejects.toBeInstanceOf(LauncherUnavailableError);
  });

  it('refuses a handle of another launcher', async () => {
    await expect(launcher().status({ kind: 'docker', containerId: 'abc' })).rejects.toThrow(TypeError);
  });
});

describe('SsmLauncher.stop', () => {
  it('cancels the command and removes the container on the same instance', async () => {
    // Prepare
    ssm.on(CancelCommandCommand).resolves({});

    // Act
    await launcher().stop(HANDLE);

    // Assess
    expect(ssm.commandCalls(CancelCommandCommand)[0].args[0].input).toEqual({
      CommandId: 'cmd-1',
      InstanceIds: ['i-0abc'],
    });
    const removal = ssm.commandCalls(SendCommandCommand)[0].args[0].input;
    expect(removal.InstanceIds).toEqual(['i-0abc']);
    expect(removal.Parameters?.commands).toEqual([`docker rm -f ${containerNameFor(RUN_KEY)}`]);
  });

  it('still removes the container when the command already ended', async () => {
    // Prepare
    ssm.on(CancelCommandCommand).rejects(new InvalidCommandId({ message: '', $metadata: { httpStatusCode: 400 } }));

    // Act
    await launcher().stop(HANDLE);

    // Assess
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(1);
  });

  it('passes a throttled cancel on as LauncherUnavailableError', async () => {
    // Prepare
    ssm.on(CancelCommandCommand).rejects(serviceError('ThrottlingException'));

    // Act / Assess
    await expect(launcher().stop(HANDLE)).rejects.toBeInstanceOf(LauncherUnavailableError);
  });
});

describe('image builds', () => {
  it('builds with the CUDA architecture argument and a quoted context path', () => {
    // Act
    const line = SsmLauncher.buildImageCommand({
      image: 'qp/vqe:gpu',
      contextDir: '/opt/quantum pipeline',
      cudaArch: '6.1',
      dockerfile: 'docker/Dockerfile.gpu',
    });

    // Assess
    expect(line).toBe(
      `docker build --build-arg CUDA_ARCH=6.1 -t qp/vqe:gpu -f docker/Dockerfile.gpu '/opt/quantum pipeline'`,
    );
  });

  it('refuses a CUDA architecture that is not major.minor, naming it', () => {
    expect(() =>
      SsmLauncher.buildImageCommand({ image: 'qp/vqe', contextDir: '.', cudaArch: 'sm_61; rm -rf /' }),
    ).toThrow(RangeError);
    expect(() => SsmLauncher.buildImageCommand({ image: 'qp/vqe', contextDir: '.', cudaArch: '61' })).toThrow('"61"');
  });

  it('sends the build to the instance and returns a handle status() can poll', async () => {
    // Prepare
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'build-1' } });
    ssm
      .on(GetCommandInvocationCommand, { CommandId: 'build-1', InstanceId: 'i-0abc' })
      .resolves({ Status: 'Success', ResponseCode: 0 });
    const subject = launcher();

    // Act
    const handle = await subject.buildImage({ image: 'qp/vqe', contextDir: '/src', cudaArch: '8.6' });

    // Assess
    expect(handle).toEqual({
      kind: 'ssm',
      commandId: 'build-1',
      instanceId: 'i-0abc',
      containerName: 'qp-image-build',
    });
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.Parameters?.commands).toEqual([
      'docker build --build-arg CUDA_ARCH=8.6 -t qp/vqe /src',
    ]);
    await expect(subject.status(handle)).resolves.toMatchObject({ state: 'exited', exitCode: 0 });
  });
});

describe('shellQuote', () => {
  it.each(["it's", "a 'b' c", '$(rm -rf /) `x` "y" \\ ;|&', ''])('round-trips %j through a real shell', (value) => {
    // Act
    const printed = execFileSync('sh', ['-c', `printf %s ${shellQuote(value)}`], { encoding: 'utf8' });

    // Assess
    expect(printed).toBe(value);
  });
});
