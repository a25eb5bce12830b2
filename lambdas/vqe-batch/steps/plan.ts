/**
 * The first step of a VQE batch: validates the console input, plans the tier's runs (SPEC
 * section 5) without those already done, and stores each lane's run list in S3. What it returns
 * stays small whatever the tier: the lanes' sizes and chunk bounds, never the runs themselves.
 *
 * One batch at a time on the GPU host: with `executions`, a batch that is not a dry run first
 * takes the run slot (the oldest running execution of the batch machine holds it, as in the
 * feature pipeline); another one gets PipelineBusyError, which the state machine retries, so a
 * second batch waits instead of replacing the first one's containers.
 */
import { InvalidInputError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { describeIssues, parseEvent } from '../../core/validation';
import { decideRunSlot, type RunningExecutions } from '../../feature-pipeline/steps/acquire-run-slot';
import { type BatchSettings, type LanePlan, PlanEvent, type PlanOutput } from '../contract';
import { BatchInput, type Lane, planBatch } from '../plan';
import type { RunStateStore } from '../state-store';

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
  log = new Logger('vqe-batch-plan'),
}: {
  settings: BatchSettings;
  store: RunStateStore;
  /** The batch machine's running executions; without them (the local runner) no run slot is taken. */
  executions?: RunningExecutions;
  log?: Logger;
}) {
  return async (event: unknown): Promise<PlanOutput> => {
    const request = parseEvent(PlanEvent, event, 'plan');
    const { executionName, startTime } = request;
    const raw = request.input ?? {};
    const parsed = BatchInput.safeParse(raw);
    if (!parsed.success) {
      throw new InvalidInputError(
        `batch input: ${describeIssues(parsed.error, raw, (path) => (path === '' ? Object.keys(BatchInput.shape) : []))}`,
      );
    }
    const input = parsed.data;
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

    if (executions && !input.dryRun && request.executionArn && request.stateMachineArn) {
      // Throws PipelineBusyError while an older batch runs; nothing is planned or written before.
      decideRunSlot({ executionArn: request.executionArn, startTime }, await executions.list(request.stateMachineArn));
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
