/**
 * The synthesized "r2 sync" state machine, executed in this process like the feature pipeline:
 * the real definition and step code, the two S3 endpoints of the local data plane (Garage with the
 * pipeline's key as the source, the `qp-data` bucket under the R2 stand-in's own key as the
 * destination). The stand-in's key plays the part of the R2 token in Secrets Manager.
 */

import type { QuantumPipelineStack } from '../../infra/stack';
import { Logger, withLambdaContext } from '../../lambdas/core/logger';
import { SyncSettings } from '../../lambdas/r2-sync/contract';
import { type StaticCredentials, s3ClientFor } from '../../lambdas/r2-sync/engine/clients';
import { readSyncSettings } from '../../lambdas/r2-sync/settings';
import { createSyncHealthCheck } from '../../lambdas/r2-sync/steps/health-check';
import { createSyncTable } from '../../lambdas/r2-sync/steps/sync-table';
import type { CfnTemplate } from './definition';
import { functionEnvironment, logicalIdOf, placeholderArn, resolveDefinition } from './definition';
import { hostBusBindings, type LocalEventBridge, localMetricEmitter } from './local-events';
import { type LocalExecution, LocalStateMachineHost } from './local-host';

export interface LocalR2SyncOptions {
  readonly template: CfnTemplate;
  readonly stack: QuantumPipelineStack;
  readonly bus: LocalEventBridge;
  /** The R2 stand-in's key (QP_R2_ACCESS_KEY_ID / QP_R2_SECRET_ACCESS_KEY of dataplane.env). */
  readonly destinationCredentials: StaticCredentials;
  /** Changes to the deployed SYNC_SETTINGS (tests use their own prefixes). */
  readonly settings?: Partial<SyncSettings>;
  /** What each invocation's getRemainingTimeInMillis() starts from. @default 900000 */
  readonly lambdaBudgetMs?: number;
  readonly retryOverridesMs?: Record<string, number | number[]>;
  readonly lambdaLog?: (line: string) => void;
}

export interface LocalR2Sync {
  readonly host: LocalStateMachineHost;
  readonly settings: SyncSettings;
  /** Executions the bus started (rule targets), in order. */
  readonly triggered: LocalExecution[];
}

/** The local R2 sync, or undefined when the stack does not deploy one (r2.enabled false). */
export function createLocalR2Sync(options: LocalR2SyncOptions): LocalR2Sync | undefined {
  const { stack, template } = options;
  const sync = stack.r2Sync;
  if (!sync) return undefined;
  const healthId = logicalIdOf(stack, sync.healthCheck);
  const tableId = logicalIdOf(stack, sync.syncTable);
  const deployed = readSyncSettings(functionEnvironment(template, tableId));
  const settings = options.settings ? SyncSettings.parse({ ...deployed, ...options.settings }) : deployed;
  // The source side uses the default credential chain, as the Lambda's role would on AWS.
  const clients = {
    source: s3ClientFor(settings.source),
    destination: s3ClientFor(settings.destination, options.destinationCredentials),
  };
  const sink = options.lambdaLog ?? (() => undefined);
  const healthLog = new Logger('r2-sync-health-check', {}, 'INFO', sink);
  const tableLog = new Logger('r2-sync-table', {}, 'INFO', sink);
  // As on Lambda, each invocation's ids go on every line its step writes.
  const healthCheck = withLambdaContext(healthLog, createSyncHealthCheck({ settings, clients, log: healthLog }), {});
  const metrics = localMetricEmitter(functionEnvironment(template, tableId), tableLog, (line) => {
    sink(line);
    options.bus.recordMetrics(line);
  });
  const syncTable = withLambdaContext(tableLog, createSyncTable({ settings, clients, log: tableLog, metrics }), {});

  const machineId = logicalIdOf(stack, sync.stateMachine);
  const host = new LocalStateMachineHost({
    definition: resolveDefinition(template, machineId),
    stateMachineName: sync.stateMachineName,
    stateMachineArn: placeholderArn(template, machineId),
    lambdaHandlers: {
      [healthId]: async (event, context) => healthCheck(event, context),
      [tableId]: async (event, context) => syncTable(event, context),
    },
    ...hostBusBindings(options.bus),
    lambdaBudgetMs: options.lambdaBudgetMs,
    retryOverridesMs: options.retryOverridesMs,
  });
  const triggered: LocalExecution[] = [];
  let count = 0;
  options.bus.connectStateMachine(machineId, (input) => {
    const trigger = (input as { trigger?: unknown } | null)?.trigger;
    count += 1;
    const label = typeof trigger === 'string' ? trigger.replace(/[^A-Za-z0-9_-]/g, '-') : 'event';
    const name = `${label}-${Date.now()}-${count}`;
    triggered.push(host.start(input, name.slice(0, 80)));
  });
  return { host, settings, triggered };
}
