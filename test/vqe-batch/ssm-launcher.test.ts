/** The SSM Run Command launcher, mocked at the SDK boundary; shell quoting checked against a real shell. */
import { execFileSync } from 'node:child_process';
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
const ARGS = ['--molecule-index', '0', '--basis', 'sto3g', '--optimizer', 'L-BFGS-B', '--convergence', '--gpu'];
const DOCUMENTS = { run: 'QuantumPipeline-RunDocument-AbC123', build: 'QuantumPipeline-BuildDocument-XyZ789' };
const LANE_DEVICES = { gpu1: 'device=0', gpu2: 'device=1,2' };
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
    documents: DOCUMENTS,
    laneDevices: LANE_DEVICES,
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
  it("sends the run document with the run's checked parameters to the configured instance, never a shell line", async () => {
    // Prepare
    const subject = launcher({ cloudWatchLogGroup: '/qp/vqe' });

    // Act
    const handle = await subject.launch({ runKey: RUN_KEY, args: ARGS, lane: 'gpu1' });

    // Assess
    expect(handle).toEqual({
      kind: 'ssm',
      commandId: 'cmd-1',
      instanceId: 'i-0abc',
      containerName: containerNameFor(RUN_KEY),
    });
    const calls = ssm.commandCalls(SendCommandCommand);
    expect(calls).toHaveLength(1);
    expect(calls[0].args[0].input).toEqual({
      DocumentName: DOCUMENTS.run,
      InstanceIds: ['i-0abc'],
      Parameters: {
        action: ['run'],
        containerName: [containerNameFor(RUN_KEY)],
        image: ['ghcr.io/qp/vqe:1.2'],
        gpus: ['device=0'],
        args: ['--molecule-index 0 --basis sto3g --optimizer L-BFGS-B --convergence --gpu'],
        executionTimeout: ['7200'],
      },
      Comment: `qp run ${RUN_KEY}`,
      CloudWatchOutputConfig: { CloudWatchLogGroupName: '/qp/vqe', CloudWatchOutputEnabled: true },
    });
  });

  it.each([
    ['gpu1', 'device=0'],
    ['gpu2', 'device=1,2'],
    ['cpu', 'none'],
    [undefined, 'none'],
  ] as const)('pins the %s lane to its own GPU device spec (%s)', async (lane, gpus) => {
    // Act
    await launcher().launch({ runKey: RUN_KEY, args: ARGS, lane });

    // Assess
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input.Parameters?.gpus).toEqual([gpus]);
  });

  it.each([
    ['a ; in a value', ['--basis', 'sto3g;reboot']],
    ['a command substitution', ['--basis', '$(curl evil.example)']],
    ['backticks', ['--basis', '`id`']],
    ['a newline', ['--basis', 'sto3g\nreboot']],
    ['a quote', ['--label', "it's"]],
    ['a space inside one argument', ['--basis', 'sto3g --privileged']],
    ['a pipe', ['--basis', 'a|b']],
    ['a glob', ['--file', '/etc/*']],
    ['a flag with an inline value', ['--basis=$(id)']],
    ['a value without a flag', ['sto3g']],
    ['a secret-looking flag with its value', ['--api-key', 'abc123']],
  ])('refuses %s in the arguments before any SendCommand', async (_label, args) => {
    // Act
    const launching = launcher().launch({ runKey: RUN_KEY, args, lane: 'gpu1' });

    // Assess
    await expect(launching).rejects.toBeInstanceOf(RunLaunchError);
    await expect(launching).rejects.toThrow(/refused before SendCommand: args\[\d\]/);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    expect(ssm.commandCalls(DescribeInstanceInformationCommand)).toHaveLength(0);
  });

  it.each([
    ['a ;', 'device=0;reboot'],
    ['a command substitution', '$(id)'],
    ['a newline', 'all\nreboot'],
    ['a quote', '"device=0"'],
  ])('refuses a lane device spec with %s before any SendCommand, naming it', async (_label, device) => {
    // Act
    const launching = launcher({ laneDevices: { gpu1: device } }).launch({ runKey: RUN_KEY, args: ARGS, lane: 'gpu1' });

    // Assess
    await expect(launching).rejects.toThrow(`parameter gpus does not match`);
    await expect(launching).rejects.toBeInstanceOf(RunLaunchError);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it.each(['--privileged', 'qp/vqe:1.2; reboot', 'qp/vqe:$(id)', 'qp/vqe\n'])(
    'refuses to be built for an image %j that is not an image reference',
    (image) => {
      expect(() => launcher({ image })).toThrow(RangeError);
    },
  );

  it('cuts a long run key in the comment to 100 characters and leaves out CloudWatch when no log group is set', async () => {
    // Act
    await launcher().launch({ runKey: `cpu/${'x'.repeat(200)}`, args: [] });

    // Assess
    const input = ssm.commandCalls(SendCommandCommand)[0].args[0].input;
    expect(input.Comment).toHaveLength(100);
    expect(input.CloudWatchOutputConfig).toBeUndefined();
    expect(input.Parameters?.containerName?.[0]).toMatch(/^qp-cpu-x{76}-[0-9a-f]{8}$/);
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
    [
      'Failed',
      { ResponseCode: 97 },
      { state: 'exited', exitCode: 97, detail: 'a container secret could not be read on the host' },
    ],
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
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input).toEqual({
      DocumentName: DOCUMENTS.run,
      InstanceIds: ['i-0abc'],
      Parameters: { action: ['stop'], containerName: [containerNameFor(RUN_KEY)], executionTimeout: ['120'] },
      Comment: `qp stop ${containerNameFor(RUN_KEY)}`,
    });
  });

  it.each(['qp-x; reboot', 'qp-$(id)-0000abcd', 'qp-x`id`-0000abcd', 'qp-x\nreboot-0000abcd', 'other'])(
    'refuses a handle whose container name %j is not one of ours before cancelling or sending anything',
    async (containerName) => {
      // Act
      const stopping = launcher().stop({ ...HANDLE, containerName });

      // Assess
      await expect(stopping).rejects.toThrow(/refused before SendCommand: parameter containerName/);
      expect(ssm.commandCalls(CancelCommandCommand)).toHaveLength(0);
      expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
    },
  );

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
  it('sends the build document with the image and the CUDA architecture and returns a handle status() can poll', async () => {
    // Prepare
    ssm.on(SendCommandCommand).resolves({ Command: { CommandId: 'build-1' } });
    ssm
      .on(GetCommandInvocationCommand, { CommandId: 'build-1', InstanceId: 'i-0abc' })
      .resolves({ Status: 'Success', ResponseCode: 0 });
    const subject = launcher();

    // Act
    const handle = await subject.buildImage({ image: 'ghcr.io/qp/vqe:1.2', contextDir: '/src', cudaArch: '8.6' });

    // Assess
    expect(handle).toEqual({
      kind: 'ssm',
      commandId: 'build-1',
      instanceId: 'i-0abc',
      containerName: 'qp-image-build',
    });
    expect(ssm.commandCalls(SendCommandCommand)[0].args[0].input).toEqual({
      DocumentName: DOCUMENTS.build,
      InstanceIds: ['i-0abc'],
      Parameters: { image: ['ghcr.io/qp/vqe:1.2'], cudaArch: ['8.6'], executionTimeout: ['7200'] },
      Comment: 'qp image build ghcr.io/qp/vqe:1.2',
    });
    await expect(subject.status(handle)).resolves.toMatchObject({ state: 'exited', exitCode: 0 });
  });

  it.each([
    ['a CUDA architecture with a shell command', { cudaArch: 'sm_61; rm -rf /' }, 'parameter cudaArch'],
    ['a CUDA architecture that is not major.minor', { cudaArch: '61' }, '"61"'],
    ['another repository', { image: 'evil.example/miner:latest' }, 'parameter image'],
    ['an image with a command substitution', { image: 'ghcr.io/qp/vqe:$(id)' }, 'parameter image'],
  ])('refuses %s before any SendCommand, naming it', async (_label, change, named) => {
    // Act
    const building = launcher().buildImage({
      image: 'ghcr.io/qp/vqe:1.2',
      contextDir: '/src',
      cudaArch: '6.1',
      ...change,
    });

    // Assess
    await expect(building).rejects.toThrow(RangeError);
    await expect(building).rejects.toThrow(named);
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
  });

  it('fails the build clearly when no build document is deployed', async () => {
    // Act
    const building = launcher({ documents: { run: DOCUMENTS.run } }).buildImage({
      image: 'ghcr.io/qp/vqe:1.2',
      contextDir: '/src',
      cudaArch: '6.1',
    });

    // Assess
    await expect(building).rejects.toThrow('no build document is deployed');
    expect(ssm.commandCalls(SendCommandCommand)).toHaveLength(0);
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
