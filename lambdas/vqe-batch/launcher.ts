/**
 * How a VQE run reaches a machine: one interface, three launchers (SSM Run Command on a managed
 * GPU host, the Docker Engine API, a local process runner). A launch returns a handle that is
 * plain JSON: it travels through Step Functions and the per-run state object, and any later
 * invocation (another Lambda container, another CLI process) can poll or stop the run with it.
 */
import { type Lane, RunHandle } from './contract';
import type { RunRecords } from './delivery';

export type { RunRecords };
export { RunHandle };

/** What a launcher is asked to start. */
export interface LaunchRequest {
  /** The run key (lane/basis/molecule/optimizer/ansatz/init/seed-N); names the container. */
  readonly runKey: string;
  /** The simulation image's CLI arguments (SPEC section 5), without the program itself. */
  readonly args: readonly string[];
  /** The run's lane: the SSM launcher gives a GPU lane its configured device (batch.laneDevices). @default no GPU device */
  readonly lane?: Lane;
  /**
   * Where the run's records go (delivery.ts): the launcher adds the image's output arguments
   * and, for host-upload, mounts the run folder and uploads it once the run exited 0.
   * @default the arguments alone: the image delivers its records its own way
   */
  readonly records?: RunRecords;
}

/** Where a launched run is. `exitCode` is the container's (or process's); `stderrTail` its last bytes of stderr. */
export type RunStatus =
  | { readonly state: 'running' }
  | { readonly state: 'exited'; readonly exitCode: number; readonly stderrTail: string; readonly detail?: string };

export interface Launcher {
  readonly kind: RunHandle['kind'];
  /**
   * Starts the run and returns at once. Whatever an earlier launch of the same run key left
   * running (an earlier batch gave up on it, or a step crashed before its handle was stored) is
   * replaced, so two copies of one run never share the host. Throws RunLaunchError when the run
   * itself cannot start.
   */
  launch(request: LaunchRequest): Promise<RunHandle>;
  status(handle: RunHandle): Promise<RunStatus>;
  /** Stops the run (a timeout); safe to call on a run that already ended. */
  stop(handle: RunHandle): Promise<void>;
}

/** How much of stderr a run's state keeps. */
export const STDERR_TAIL_BYTES = 4000;

/** The last `STDERR_TAIL_BYTES` of a text, cut at a character boundary. */
export function tail(text: string, bytes: number = STDERR_TAIL_BYTES): string {
  const buffer = Buffer.from(text, 'utf8');
  if (buffer.length <= bytes) return text;
  return buffer
    .subarray(buffer.length - bytes)
    .toString('utf8')
    .replace(/^\uFFFD+/, '');
}

export { containerNameFor } from './container-name';
export { shellQuote } from './host-commands';
