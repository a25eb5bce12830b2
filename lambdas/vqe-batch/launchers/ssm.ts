/**
 * Runs a VQE container on a managed GPU host through SSM Run Command. Nothing free-form reaches
 * the host: each run (and its stop) is the stack's run document with pattern-checked parameters,
 * each image build the build document (see host-commands.ts). The values are checked against the
 * documents' patterns here first, so a hostile one is refused before any SendCommand. The host
 * needs only the SSM agent and Docker; nothing listens on it, and the handle (command id +
 * instance id) is all a later invocation needs.
 */
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  type DescribeInstanceInformationCommandOutput,
  GetCommandInvocationCommand,
  type GetCommandInvocationCommandOutput,
  SendCommandCommand,
  type SSMClient,
} from '@aws-sdk/client-ssm';
import { LauncherUnavailableError, RunLaunchError } from '../../core/errors';
import { isTransientAwsError } from '../../core/transient';
import { SECRET_LOOKUP_EXIT_CODE } from '../container-secrets';
import type { Lane } from '../contract';
import { CONTAINER_RECORDS_DIR, DEFAULT_RECORDS_PREFIX, RECORDS_UPLOAD_EXIT_CODE, recordsArguments } from '../delivery';
import {
  argumentProblems,
  type BuildParameter,
  describeProblems,
  imageParameterPattern,
  PARAMETER_PATTERNS,
  type RunParameter,
} from '../host-commands';
import { recordsPrefixParameterPattern } from '../host-upload';
import { containerNameFor, type Launcher, type LaunchRequest, type RunHandle, type RunStatus, tail } from '../launcher';

export interface SsmLauncherSettings {
  /** The managed GPU host: an EC2 instance id (i-...) or an on-premises managed node id (mi-...), or a tag. */
  readonly target: { readonly instanceId: string } | { readonly tag: { readonly key: string; readonly value: string } };
  /** The image each run uses; the documents accept this repository only. */
  readonly image: string;
  /** Names of the stack's SSM Command documents: run/stop, and the image build when one is deployed. */
  readonly documents: { readonly run: string; readonly build?: string };
  /** Each GPU lane's `--gpus` device spec (`all`, `device=N[,M]`). @default no GPU for any lane */
  readonly laneDevices?: Readonly<Partial<Record<Lane, string>>>;
  /** SSM executionTimeout of one command in seconds (a backstop above the state machine's per-run timeout). */
  readonly commandTimeoutSeconds: number;
  /** Optional CloudWatch log group for full command output. */
  readonly cloudWatchLogGroup?: string;
  /**
   * The records prefix's root the run document fixes (delivery host-upload): a run's own prefix
   * must lie below it. @default 'experiments/experiment.vqe/'
   */
  readonly recordsPrefix?: string;
}

export interface ImageBuildSettings {
  readonly image: string;
  /** Fixed in the build document at deploy time; carried for the logs only. */
  readonly contextDir: string;
  /** The GPU's compute capability, e.g. '6.1' for a GTX 10xx; the image compiles its kernels for it. */
  readonly cudaArch: string;
  readonly dockerfile?: string;
}

type SsmHandle = Extract<RunHandle, { kind: 'ssm' }>;

/** The handle's container name for an image build; `status()` polls the build like a run. */
export const IMAGE_BUILD_CONTAINER_NAME = 'qp-image-build';

/** SSM caps a command's Comment at 100 characters. */
const MAX_COMMENT_LENGTH = 100;
/** `docker rm -f` returns within seconds; the timeout only bounds a hung daemon. */
const CLEANUP_TIMEOUT_SECONDS = 120;
/** The exit code `timeout(1)` uses, so a timed-out run reads the same whichever launcher ran it. */
const TIMED_OUT_EXIT_CODE = 124;
/** 128 + SIGINT, the code a shell reports for an interrupted command. */
const CANCELLED_EXIT_CODE = 130;
/** The command never ran (or was cut off by SSM itself): a plain failure, the detail says why. */
const NOT_RUN_EXIT_CODE = 1;

/** Statuses (or status details, spaces removed) meaning the host never ran the command to its end. */
const NOT_DELIVERED = new Set(['Undeliverable', 'Terminated', 'DeliveryTimedOut']);

/** What the SDK's errors carry that the launcher reads. */
interface SdkErrorShape {
  name?: string;
  message?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
}

/** A service's answer (as opposed to a bug in this code, which must surface unchanged). */
function isServiceError(error: unknown): boolean {
  const e = (error ?? {}) as SdkErrorShape;
  return e.$metadata !== undefined || e.$fault !== undefined;
}

function errorName(error: unknown): string {
  return (error as SdkErrorShape | undefined)?.name ?? 'Error';
}

function describeError(error: unknown): string {
  return `${errorName(error)}: ${(error as SdkErrorShape | undefined)?.message ?? String(error)}`;
}

function expectSsmHandle(handle: RunHandle): SsmHandle {
  if (handle.kind !== 'ssm') throw new TypeError(`SsmLauncher cannot handle a ${handle.kind} run handle`);
  return handle;
}

/** Document parameters as SendCommand takes them: each value a one-element list. */
type Parameters = Record<string, string[]>;

/** The values checked against the document's patterns; the first that does not match is named. */
function checkedParameters(
  values: Readonly<Record<string, string>>,
  patterns: Readonly<Record<string, string>>,
  refuse: (message: string) => Error,
): Parameters {
  for (const [name, value] of Object.entries(values)) {
    const pattern = patterns[name];
    if (pattern === undefined || !new RegExp(pattern).test(value)) {
      throw refuse(`parameter ${name} does not match ${pattern ?? 'any pattern'}, got ${JSON.stringify(value)}`);
    }
  }
  return Object.fromEntries(Object.entries(values).map(([name, value]) => [name, [value]]));
}

export class SsmLauncher implements Launcher {
  readonly kind = 'ssm' as const;
  private readonly runPatterns: Record<RunParameter, string>;

  constructor(
    private readonly client: SSMClient,
    private readonly settings: SsmLauncherSettings,
  ) {
    const image = imageParameterPattern(settings.image);
    const recordsPrefix = recordsPrefixParameterPattern(settings.recordsPrefix ?? DEFAULT_RECORDS_PREFIX);
    this.runPatterns = { ...PARAMETER_PATTERNS, action: '^(run|stop)$', image, recordsPrefix };
  }

  /**
   * The run document's parameters of one run, checked before anything is sent: the arguments
   * must be `--flag [value]` tokens of restricted characters, the lane's device spec and the
   * container name must fit their patterns. The document itself first removes a container that
   * an earlier launch of the same run left behind (its handle lost with a crashed step), then
   * `docker run --rm`s the image, whose exit code is the command's. The run's records target
   * adds the image's output arguments: the s3:// prefix (direct), or the mounted run folder and
   * the recordsPrefix parameter the document uploads it to (host-upload).
   * @throws RunLaunchError naming the value that is refused
   */
  runParameters(request: LaunchRequest): Parameters {
    const refuse = (message: string) =>
      new RunLaunchError(`run ${request.runKey}: refused before SendCommand: ${message}`);
    const { records } = request;
    const args = [...request.args, ...(records ? recordsArguments(records, CONTAINER_RECORDS_DIR) : [])];
    const problems = describeProblems('args', argumentProblems(args));
    if (problems.length > 0) throw refuse(problems.join('; '));
    const device = request.lane === undefined ? undefined : this.settings.laneDevices?.[request.lane];
    return checkedParameters(
      {
        action: 'run',
        containerName: containerNameFor(request.runKey),
        image: this.settings.image,
        gpus: device ?? 'none',
        args: args.join(' '),
        executionTimeout: String(this.settings.commandTimeoutSeconds),
        ...(records?.mode === 'host-upload' ? { recordsPrefix: records.prefix } : {}),
      },
      this.runPatterns,
      refuse,
    );
  }

  async launch(request: LaunchRequest): Promise<RunHandle> {
    const parameters = this.runParameters(request);
    const instanceId = await this.resolveInstance();
    const commandId = await this.sendMapped(
      instanceId,
      this.settings.documents.run,
      parameters,
      `qp run ${request.runKey}`,
    );
    return { kind: 'ssm', commandId, instanceId, containerName: containerNameFor(request.runKey) };
  }

  /** Builds the image on the host with the build document; the returned handle is polled with `status()` like a run. */
  async buildImage(settings: ImageBuildSettings): Promise<RunHandle> {
    const document = this.settings.documents.build;
    if (document === undefined) throw new RunLaunchError('image build: no build document is deployed (batch.build)');
    const patterns: Record<BuildParameter, string> = {
      image: imageParameterPattern(this.settings.image),
      cudaArch: PARAMETER_PATTERNS.cudaArch,
      executionTimeout: PARAMETER_PATTERNS.executionTimeout,
    };
    const parameters = checkedParameters(
      {
        image: settings.image,
        cudaArch: settings.cudaArch,
        executionTimeout: String(this.settings.commandTimeoutSeconds),
      },
      patterns,
      (message) => new RangeError(`image build: refused before SendCommand: ${message}`),
    );
    const instanceId = await this.resolveInstance();
    const commandId = await this.sendMapped(instanceId, document, parameters, `qp image build ${settings.image}`);
    return { kind: 'ssm', commandId, instanceId, containerName: IMAGE_BUILD_CONTAINER_NAME };
  }

  async status(handle: RunHandle): Promise<RunStatus> {
    const { commandId, instanceId } = expectSsmHandle(handle);
    let invocation: GetCommandInvocationCommandOutput;
    try {
      invocation = await this.client.send(
        new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }),
      );
    } catch (error) {
      // SSM registers the invocation a moment after SendCommand returns.
      if (errorName(error) === 'InvocationDoesNotExist') return { state: 'running' };
      if (isTransientAwsError(error) || !isServiceError(error)) throw mapped(error, instanceId);
      // The command can no longer be looked up (bad id, host deregistered): the run is lost.
      return {
        state: 'exited',
        exitCode: NOT_RUN_EXIT_CODE,
        stderrTail: '',
        detail: `SSM cannot report command ${commandId} on ${instanceId}: ${describeError(error)}`,
      };
    }
    return invocationStatus(invocation);
  }

  /**
   * Cancels the command and removes the container (the run document with action=stop):
   * cancelling only kills the shell on the host, and the container it started would keep the
   * GPU busy.
   */
  async stop(handle: RunHandle): Promise<void> {
    const { commandId, instanceId, containerName } = expectSsmHandle(handle);
    const parameters = checkedParameters(
      { action: 'stop', containerName, executionTimeout: String(CLEANUP_TIMEOUT_SECONDS) },
      this.runPatterns,
      (message) => new RangeError(`stop ${containerName}: refused before SendCommand: ${message}`),
    );
    try {
      await this.client.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: [instanceId] }));
    } catch (error) {
      // An ended (or expired) command cannot be cancelled; there is nothing left to cancel.
      const alreadyEnded = ['InvalidCommandId', 'InvocationDoesNotExist'].includes(errorName(error));
      if (!alreadyEnded) throw mapped(error, instanceId);
    }
    try {
      await this.send(instanceId, this.settings.documents.run, parameters, `qp stop ${containerName}`);
    } catch (error) {
      // A host that left SSM (terminated, agent gone) has no container left for us to reach.
      if (errorName(error) !== 'InvalidInstanceId') throw mapped(error, instanceId);
    }
  }

  /** The one instance a run goes to: the configured id, or the first online host with the tag. */
  private async resolveInstance(): Promise<string> {
    const { target } = this.settings;
    if ('instanceId' in target) return target.instanceId;
    const tagName = `${target.tag.key}=${target.tag.value}`;
    const online: string[] = [];
    let nextToken: string | undefined;
    do {
      let page: DescribeInstanceInformationCommandOutput;
      try {
        page = await this.client.send(
          new DescribeInstanceInformationCommand({
            Filters: [
              { Key: `tag:${target.tag.key}`, Values: [target.tag.value] },
              { Key: 'PingStatus', Values: ['Online'] },
            ],
            NextToken: nextToken,
          }),
        );
      } catch (error) {
        throw mapped(error, `tag ${tagName}`);
      }
      for (const info of page.InstanceInformationList ?? []) if (info.InstanceId) online.push(info.InstanceId);
      nextToken = page.NextToken;
    } while (nextToken);
    // Sorted so every launch of a batch picks the same host while the fleet is unchanged.
    const [first] = online.sort();
    if (first === undefined) throw new RunLaunchError(`no SSM managed instance is online with tag ${tagName}`);
    return first;
  }

  /** A run's or a build's command, SSM errors mapped. */
  private async sendMapped(
    instanceId: string,
    document: string,
    parameters: Parameters,
    comment: string,
  ): Promise<string> {
    try {
      return await this.send(instanceId, document, parameters, comment);
    } catch (error) {
      throw mapped(error, instanceId);
    }
  }

  /** Sends one document with its parameters (executionTimeout among them) to one host; SDK errors are thrown as they are. */
  private async send(instanceId: string, document: string, parameters: Parameters, comment: string): Promise<string> {
    const logGroup = this.settings.cloudWatchLogGroup;
    const sent = await this.client.send(
      new SendCommandCommand({
        DocumentName: document,
        InstanceIds: [instanceId],
        Parameters: parameters,
        Comment: comment.slice(0, MAX_COMMENT_LENGTH),
        ...(logGroup === undefined
          ? {}
          : { CloudWatchOutputConfig: { CloudWatchLogGroupName: logGroup, CloudWatchOutputEnabled: true } }),
      }),
    );
    const commandId = sent.Command?.CommandId;
    if (!commandId) throw new LauncherUnavailableError(`SSM SendCommand to ${instanceId} returned no command id`);
    return commandId;
  }
}

/**
 * Transient failures become LauncherUnavailableError (the state machine retries them); any other
 * answer of the service becomes RunLaunchError (the run is recorded as failed). Errors of this
 * code itself, and the ones already mapped, pass through unchanged.
 */
function mapped(error: unknown, target: string): Error {
  if (error instanceof LauncherUnavailableError || error instanceof RunLaunchError) return error;
  if (isTransientAwsError(error))
    return new LauncherUnavailableError(`SSM unavailable for ${target}: ${describeError(error)}`, { cause: error });
  if (isServiceError(error))
    return new RunLaunchError(`SSM refused the command for ${target}: ${describeError(error)}`, { cause: error });
  return error instanceof Error ? error : new Error(String(error));
}

/** Maps one GetCommandInvocation answer to a run status. */
export function invocationStatus(
  invocation: Pick<
    GetCommandInvocationCommandOutput,
    'Status' | 'StatusDetails' | 'ResponseCode' | 'StandardErrorContent'
  >,
): RunStatus {
  const status = invocation.Status ?? 'Pending';
  const details = invocation.StatusDetails ?? '';
  const stderrTail = tail(invocation.StandardErrorContent ?? '');
  const compact = (value: string) => value.replace(/\s+/g, '');
  if (NOT_DELIVERED.has(compact(status)) || NOT_DELIVERED.has(compact(details))) {
    return {
      state: 'exited',
      exitCode: NOT_RUN_EXIT_CODE,
      stderrTail,
      detail: `SSM command did not run to its end: ${details || status}`,
    };
  }
  if (status === 'TimedOut' || compact(details) === 'ExecutionTimedOut') {
    return {
      state: 'exited',
      exitCode: TIMED_OUT_EXIT_CODE,
      stderrTail,
      detail: 'SSM command timed out (executionTimeout)',
    };
  }
  switch (status) {
    case 'Pending':
    case 'InProgress':
    case 'Delayed':
    case 'Cancelling':
      return { state: 'running' };
    case 'Success':
      return { state: 'exited', exitCode: invocation.ResponseCode ?? 0, stderrTail };
    case 'Failed': {
      // SSM reports -1 when the shell was killed before it returned a code.
      const code = invocation.ResponseCode;
      if (code === RECORDS_UPLOAD_EXIT_CODE) {
        // The run document's own code (host-upload): the run folder could not be made or uploaded.
        return {
          state: 'exited',
          exitCode: code,
          stderrTail,
          detail: 'the run folder could not be made or its records uploaded on the host',
        };
      }
      if (code === SECRET_LOOKUP_EXIT_CODE) {
        // The run document's own code: a container secret could not be read; stderr names it.
        return {
          state: 'exited',
          exitCode: code,
          stderrTail,
          detail: 'a container secret could not be read on the host',
        };
      }
      return { state: 'exited', exitCode: code === undefined || code === -1 ? 1 : code, stderrTail };
    }
    case 'Cancelled':
      return { state: 'exited', exitCode: CANCELLED_EXIT_CODE, stderrTail, detail: 'SSM command cancelled' };
    default:
      // A status this code does not know: the run is recorded as failed rather than polled forever.
      return {
        state: 'exited',
        exitCode: NOT_RUN_EXIT_CODE,
        stderrTail,
        detail: `SSM command ended with unknown status ${status}${details ? ` (${details})` : ''}`,
      };
  }
}
