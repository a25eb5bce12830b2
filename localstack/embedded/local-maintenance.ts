/**
 * The synthesized "table maintenance" state machine, executed in this process like the feature
 * pipeline: the real definition, its validation step's code, and the feature pipeline's Spark step
 * handlers (the same functions on AWS), so its job goes to the local cluster the same way.
 *
 * The run slot: both definitions name the machine they share it with by its deployed ARN (built
 * from its name), while the local hosts answer to ARNs built from logical ids. `runSlotLister`
 * answers for either form, so the pipeline's and maintenance's executions exclude each other here
 * as they do on AWS.
 */
import type { QuantumPipelineStack } from '../../infra/stack';
import { Logger, withLambdaContext } from '../../lambdas/core/logger';
import type { RunningExecution, RunningExecutions } from '../../lambdas/feature-pipeline/steps/acquire-run-slot';
import { validateMaintenanceInput } from '../../lambdas/maintenance/steps/validate-input';
import {
  allStates,
  type CfnTemplate,
  LOCAL_ACCOUNT,
  LOCAL_REGION,
  logicalIdOf,
  placeholderArn,
  resolveDefinition,
} from './definition';
import { hostBusBindings, type LocalEventBridge } from './local-events';
import { type LambdaHandler, LocalStateMachineHost } from './local-host';

export interface LocalMaintenanceOptions {
  readonly template: CfnTemplate;
  readonly stack: QuantumPipelineStack;
  readonly bus: LocalEventBridge;
  /** The feature pipeline's handlers, by logical id (its Spark steps are maintenance's too). */
  readonly sparkHandlers: Record<string, LambdaHandler>;
  /** The poll interval of the job (Wait states). @default 2000 */
  readonly pollMs?: number;
  readonly retryOverridesMs?: Record<string, number | number[]>;
  readonly lambdaLog?: (line: string) => void;
}

/** The ARN a deployed state machine of this name has (what the definitions' `sharedWith` hold). */
export function deployedStateMachineArn(name: string): string {
  return `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT}:stateMachine:${name}`;
}

/** A local host and the name its machine is deployed under. */
export interface NamedHost {
  readonly host: LocalStateMachineHost;
  readonly name: string;
}

/** Running executions of the local hosts, asked by a host's own ARN or by its deployed one. */
export function runSlotLister(hosts: () => readonly NamedHost[]): RunningExecutions {
  return {
    async list(arn: string): Promise<RunningExecution[]> {
      return hosts()
        .filter(({ host, name }) => arn === host.stateMachineArn || arn === deployedStateMachineArn(name))
        .flatMap(({ host }) => host.listRunning(host.stateMachineArn));
    },
  };
}

export function createLocalMaintenance(options: LocalMaintenanceOptions): LocalStateMachineHost {
  const { stack, template } = options;
  const machine = stack.maintenance;
  const machineId = logicalIdOf(stack, machine.stateMachine);
  const definition = resolveDefinition(template, machineId);
  const validateId = logicalIdOf(stack, machine.validateFunction);
  const log = new Logger('validate-maintenance-input', {}, 'INFO', options.lambdaLog ?? (() => undefined));
  const validate: LambdaHandler = withLambdaContext(
    log,
    async (event: unknown) => {
      const run = validateMaintenanceInput(event);
      log.info('input accepted', { runId: run.runId, maintenance: run.maintenance });
      return run;
    },
    {},
  );
  const waits = Object.fromEntries(
    allStates(definition)
      .filter(([, state]) => state.Type === 'Wait')
      .map(([name]) => [name, options.pollMs ?? 2000]),
  );
  return new LocalStateMachineHost({
    definition,
    stateMachineName: machine.stateMachineName,
    stateMachineArn: placeholderArn(template, machineId),
    lambdaHandlers: { ...options.sparkHandlers, [validateId]: validate },
    ...hostBusBindings(options.bus),
    waitOverridesMs: waits,
    retryOverridesMs: options.retryOverridesMs,
  });
}
