/**
 * The first step of a VQE batch: validates the console input, plans the tier's runs (SPEC
 * section 5) without those already done, and stores each lane's run list in S3. What it returns
 * stays small whatever the tier: the lanes' sizes and chunk bounds, never the runs themselves.
 *
 * One batch at a time on the GPU host: with `executions`, a batch that is not a dry run first
 * takes the run slot (the oldest running execution of the batch machine holds it, as in the
 * feature pipeline); another one gets PipelineBusyError, which the state machine retries, so a
 * second batch waits instead of replacing the first one's containers. The local runner, whose
 * batches may run in separate processes, takes the slot through a lock file instead (`runSlot`).
 */
import { InvalidInputError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { parseEvent, parseInput } from '../../core/validation';
import { decideRunSlot, type RunningExecutions } from '../../feature-pipeline/steps/acquire-run-slot';
import { type BatchSettings, type LanePlan, PlanEvent, type PlanOutput } from '../contract';
import { BatchInput, type Lane, planBatch } from '../plan';
import type { RunStateStore } from '../state-store';

/** The one-batch-at-a-time slot: taken by `self`, or PipelineBusyError naming the batch that holds it. */
export interface BatchRunSlot {
  take(self: { readonly executionArn: string; readonly startTime: string }, stateMachineArn: string): Promise<void>;
}

/** The slot as on AWS: the oldest running execution of the batch machine holds it (ListExecutions). */
export function listedRunSlot(executions: RunningExecutions): BatchRunSlot {
  return {
    async take(self, stateMachineArn) {
      decideRunSlot(self, await executions.list(stateMachineArn));
    },
  };
}

/** 20261123T190812Z: batch ids sort by their start. */
export function compactTime(iso: string): string {
  return new Date(iso)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export function createPlanBatch({
  settings,
  store,
  executions,
  runSlot = executions ? listedRunSlot(executions) : undefined,
  log = new Logger('vqe-batch-plan'),
}: {
  settings: BatchSettings;
  store: RunStateStore;
  /** The batch machine's running executions (AWS): the oldest holds the run slot. */
  executions?: RunningExecutions;
  /** How the run slot is taken. @default listedRunSlot(executions); none without executions */
  runSlot?: BatchRunSlot;
  log?: Logger;
}) {
  return async (event: unknown): Promise<PlanOutput> => {
    const request = parseEvent(PlanEvent, event, 'plan');
    const { executionName, startTime } = request;
    const raw = request.input ?? {};
    const input = parseInput(BatchInput, raw, {
      label: 'batch input',
      knownKeys: { '': Object.keys(BatchInput.shape) },
    });
    if (input.runTimeoutSeconds !== undefined && input.runTimeoutSeconds > settings.runTimeoutSeconds) {
      throw new InvalidInputError(
        `runTimeoutSeconds: at most ${settings.runTimeoutSeconds} (the deployed per-run timeout), got ${input.runTimeoutSeconds}`,
      );
    }
    const canBuild = settings.launcher.kind === 'ssm' && settings.launcher.build !== undefined;
    if (input.buildImage && !canBuild) {
      throw new InvalidInputError(
        'buildImage: needs the SSM launcher with a build section (batch.build in the CDK config), got true',
      );
    }

    if (runSlot && !input.dryRun && request.executionArn && request.stateMachineArn) {
      // Throws PipelineBusyError while another batch runs; nothing is planned or written before.
      await runSlot.take({ executionArn: request.executionArn, startTime }, request.stateMachineArn);
    }
    const batchId = `${compactTime(startTime)}-${executionName}`.slice(0, 120);
    const batchLog = log.with({ batchId });
    const plan = planBatch(input, await store.doneKeys());
    const batch = {
      batchId,
      tier: input.tier,
      startedAt: new Date(startTime).toISOString(),
      runTimeoutSeconds: input.runTimeoutSeconds ?? settings.runTimeoutSeconds,
    };
    const lanes: LanePlan[] = (Object.entries(plan.lanes) as [Lane, NonNullable<(typeof plan.lanes)[Lane]>][]).map(
      ([lane, runs]) => ({
        lane,
        runs: runs.length,
        chunks: Array.from({ length: Math.ceil(runs.length / settings.chunkSize) }, (_, i) => ({
          start: i * settings.chunkSize,
          end: Math.min(runs.length, (i + 1) * settings.chunkSize),
        })),
      }),
    );
    if (!input.dryRun) {
      for (const [lane, runs] of Object.entries(plan.lanes) as [Lane, NonNullable<(typeof plan.lanes)[Lane]>][]) {
        await store.writePlan(batchId, lane, runs);
      }
      await store.writeBatch({
        ...batch,
        input: raw,
        lanes: Object.fromEntries(lanes.map((lane) => [lane.lane, lane.runs])),
      });
    }
    batchLog.info('batch planned', {
      tier: input.tier,
      total: plan.total,
      alreadyDone: plan.alreadyDone,
      toRun: plan.toRun,
      dryRun: input.dryRun,
    });
    return {
      batch,
      dryRun: input.dryRun,
      buildImage: !input.dryRun && (input.buildImage ?? canBuild),
      total: plan.total,
      alreadyDone: plan.alreadyDone,
      toRun: plan.toRun,
      lanes,
      preview: Object.fromEntries(
        Object.entries(plan.lanes).map(([lane, runs]) => [lane, (runs ?? []).slice(0, 3).map((run) => run.key)]),
      ),
    };
  };
}
