/**
 * The first line of a failed job's cause: which driver (or job run) ended in which state, with the
 * exit status and signal where the backend or the logs tell it, and OOM when the logs show one.
 * Pure functions over what the backends already fetched; the log tail follows this line.
 *
 *   driver driver-20261202110845-0000 FAILED (SIGKILL): its log stops without Spark's shutdown, ...
 *   driver driver-20261202110134-0011 FAILED (exit 1): RuntimeError: boom
 *   driver driver-20261202110134-0011 ERROR: java.io.IOException: no python
 *   job run 00fabc FAILED (exit 1), OOM (java.lang.OutOfMemoryError: Java heap space): ...
 */

/** Signals by number, for exit statuses above 128 (the shell's 128 + n) and negative ones (-n). */
const SIGNALS: Readonly<Record<number, string>> = {
  1: 'SIGHUP',
  2: 'SIGINT',
  3: 'SIGQUIT',
  4: 'SIGILL',
  6: 'SIGABRT',
  7: 'SIGBUS',
  8: 'SIGFPE',
  9: 'SIGKILL',
  11: 'SIGSEGV',
  13: 'SIGPIPE',
  14: 'SIGALRM',
  15: 'SIGTERM',
};

/** "exit 137, SIGKILL", "exit 1", "signal SIGKILL" (a negative status is a signal, as Python reports it). */
export function describeExitStatus(code: number): string {
  if (code < 0) return SIGNALS[-code] ? `signal ${SIGNALS[-code]}` : `signal ${-code}`;
  const signal = code > 128 ? SIGNALS[code - 128] : undefined;
  return signal ? `exit ${code}, ${signal}` : `exit ${code}`;
}

/**
 * How logs and messages state an exit status: "ExitCode: 1" (EMR), "exitCode=137", "exitStatus 143",
 * "exited with code 137", "exit status 1", "User application exited with 1" (SparkSubmit).
 */
const EXIT_PATTERNS = [
  /\bexit(?:ed)?[\s_]*(?:with\s+)?(?:code|status)\s*[:=]?\s*(-?\d+)/gi,
  /\bapplication exited with\s+(-?\d+)/gi,
];

/**
 * The last exit status the text states, or undefined. Lines about executors are skipped: a driver's
 * log reports its executors' exits ("Executor ... Command exited with code 1"), which are not its own.
 */
export function findExitStatus(text: string): number | undefined {
  let found: { at: number; code: number } | undefined;
  const lines = text.split('\n').filter((line) => !/executor/i.test(line));
  const own = lines.join('\n');
  for (const pattern of EXIT_PATTERNS) {
    for (const match of own.matchAll(pattern)) {
      if (!found || (match.index ?? 0) >= found.at) found = { at: match.index ?? 0, code: Number(match[1]) };
    }
  }
  return found?.code;
}

/** "OOM (java.lang.OutOfMemoryError: Java heap space)" when the text shows the JVM's or Python's out-of-memory error. */
export function findOutOfMemory(text: string): string | undefined {
  const jvm = [...text.matchAll(/java\.lang\.OutOfMemoryError(?::\s*[^\n.;]*)?/g)].at(-1)?.[0];
  if (jvm) return `OOM (${jvm.trim().slice(0, 160)})`;
  const python = [...text.matchAll(/^MemoryError\b[^\n]*/gm)].at(-1)?.[0];
  return python ? `OOM (${python.trim().slice(0, 160)})` : undefined;
}

/** The exception line that ends a Python traceback ("RuntimeError: boom"), or undefined. */
export function pythonException(stdout: string): string | undefined {
  const at = stdout.lastIndexOf('Traceback (most recent call last):');
  if (at < 0) return undefined;
  const lines = stdout
    .slice(at)
    .split('\n')
    .map((line) => line.trimEnd())
    .filter(Boolean);
  const last = [...lines].reverse().find((line) => /^[A-Za-z_][\w.]*(: .*)?$/.test(line));
  return last?.slice(0, 300);
}

/** What the standalone backend knows about a driver that ended. */
export interface StandaloneDriverEnd {
  readonly jobId: string;
  /** The REST status reply's driverState: FAILED, ERROR, KILLED, ... */
  readonly driverState: string;
  /** The REST status reply's message (the exception of an ERROR). */
  readonly message?: string;
  /** The tail of the driver's stderr (Spark's log), '' when it could not be read. */
  readonly stderr: string;
  /** The tail of the driver's stdout (where the Python traceback lands), '' when it could not be read. */
  readonly stdout: string;
}

/**
 * Spark logs "Shutdown hook called" whenever its JVM ends on its own, even after an exception; a log
 * that stops without it ended with a signal that runs no hooks (SIGKILL: kill -9, the OOM killer).
 */
const SHUTDOWN_LINE = /ShutdownHookManager: Shutdown hook called/;

/** The lead line of a failed or killed standalone driver's cause. */
export function standaloneDriverLead(end: StandaloneDriverEnd): string {
  const { jobId, driverState, stderr, stdout } = end;
  const message = end.message?.trim() || undefined;
  const logs = [message ?? '', stderr, stdout].join('\n');
  const exception = pythonException(stdout);
  let exit = findExitStatus(logs);
  let reason: string | undefined;
  if (driverState === 'ERROR') {
    // Spark's message is "Exception from the cluster:\n<class>: <message>\n<stack>": the second line says it.
    reason =
      message
        ?.split('\n')
        .map((line) => line.trim())
        .find((line) => line && !/^Exception from the cluster:?$/.test(line)) ?? 'the worker could not launch it';
  } else if (driverState === 'KILLED') {
    reason = 'killed through the Spark master (a kill request)';
  } else if (exception) {
    // Python ends with status 1 on an uncaught exception, and SparkSubmit exits with the script's status.
    exit ??= 1;
    reason = exception;
  } else if (exit === undefined && driverState === 'FAILED' && stderr && !SHUTDOWN_LINE.test(stderr)) {
    // Spark standalone keeps no driver exit status; a JVM gone without its hooks got SIGKILL (exit 137).
    return lead(
      `driver ${jobId} ${driverState}`,
      'SIGKILL',
      findOutOfMemory(logs),
      "its log stops without Spark's shutdown, as after kill -9 or the kernel's OOM killer",
    );
  } else if (message) {
    reason = message.split('\n')[0];
  }
  return lead(`driver ${jobId} ${driverState}`, exitText(exit), findOutOfMemory(logs), reason);
}

/** The lead line of a failed or cancelled EMR Serverless job run's cause, from GetJobRun's stateDetails. */
export function emrJobRunLead(jobRunId: string, state: string, stateDetails: string | undefined): string {
  const details = stateDetails?.trim() ?? '';
  return lead(
    `job run ${jobRunId} ${state}`,
    exitText(findExitStatus(details)),
    findOutOfMemory(details),
    details ? undefined : 'EMR Serverless gave no state details',
  );
}

const exitText = (code: number | undefined) => (code === undefined ? undefined : describeExitStatus(code));

function lead(
  subject: string,
  status: string | undefined,
  oom: string | undefined,
  reason: string | undefined,
): string {
  return `${subject}${status ? ` (${status})` : ''}` + `${oom ? `, ${oom}` : ''}${reason ? `: ${reason}` : ''}`;
}
