/**
 * At most one execution of the state machine works on the tables at a time. The oldest running
 * execution holds the slot; any other one gets PipelineBusyError, which the state machine retries
 * with backoff, so a second trigger waits its turn instead of running a second job on the same
 * tables. Every contender computes the same answer from the same list, so no lock is needed.
 * State machines that work on the same tables (the feature pipeline, table maintenance) share one
 * slot: each lists the running executions of all of them (event.sharedWith).
 */
import { ListExecutionsCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { InvalidInputError, PipelineBusyError, SparkBackendUnavailableError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import { AcquireRunSlotEvent, type RunSlot } from '../contract';

export interface RunningExecution {
  readonly executionArn: string;
  readonly startDate: Date;
}

/** ListExecutions(statusFilter RUNNING): the Step Functions API on AWS, the local host locally. */
export interface RunningExecutions {
  list(stateMachineArn: string): Promise<RunningExecution[]>;
}

export function decideRunSlot(self: { executionArn: string; startTime: string }, running: RunningExecution[]): RunSlot {
  const contenders = [...running];
  if (!contenders.some((e) => e.executionArn === self.executionArn)) {
    // Listing is eventually consistent: a just-started execution may be missing from it.
    contenders.push({ executionArn: self.executionArn, startDate: new Date(self.startTime) });
  }
  contenders.sort(
    (a, b) => a.startDate.getTime() - b.startDate.getTime() || a.executionArn.localeCompare(b.executionArn),
  );
  const holder = contenders[0].executionArn;
  if (holder !== self.executionArn) {
    throw new PipelineBusyError(
      `execution ${holder} (started ${contenders[0].startDate.toISOString()}) is working on the tables; waiting for it`,
    );
  }
  return { holder, runningExecutions: contenders.length };
}

export function createAcquireRunSlot(executions: RunningExecutions, log = new Logger('acquire-run-slot')) {
  return async (event: unknown): Promise<RunSlot> => {
    const request = parseEvent(AcquireRunSlotEvent, event, 'acquire-run-slot');
    if (Number.isNaN(Date.parse(request.startTime))) {
      // An unparseable start time would sort arbitrarily and let two executions both take the slot.
      throw new InvalidInputError(
        `acquire-run-slot event: startTime: expected an ISO 8601 time, got ${JSON.stringify(request.startTime)}`,
      );
    }
    // Every state machine sharing the slot. An execution that starts while they are listed is
    // younger than this one, so whether a list has it or not, it cannot hold the slot.
    const machines = [request.stateMachineArn, ...(request.sharedWith ?? [])];
    const running = (await Promise.all([...new Set(machines)].map((arn) => executions.list(arn)))).flat();
    const slot = decideRunSlot(request, running);
    log.info('run slot acquired', { executionArn: request.executionArn, running: running.length });
    return slot;
  };
}

export function stepFunctionsExecutions(client: SFNClient): RunningExecutions {
  return {
    async list(stateMachineArn) {
      const found: RunningExecution[] = [];
      let nextToken: string | undefined;
      try {
        do {
          const page = await client.send(
            new ListExecutionsCommand({ stateMachineArn, statusFilter: 'RUNNING', nextToken }),
          );
          for (const e of page.executions ?? []) {
            if (e.executionArn && e.startDate) found.push({ executionArn: e.executionArn, startDate: e.startDate });
          }
          nextToken = page.nextToken;
        } while (nextToken);
      } catch (cause) {
        throw new SparkBackendUnavailableError(`ListExecutions ${stateMachineArn}: ${(cause as Error).message}`, {
          cause,
        });
      }
      return found;
    },
  };
}
