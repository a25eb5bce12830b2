/** Lambda entry of table maintenance's validation step (core: ../steps/validate-input.ts). */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { RunContext } from '../../feature-pipeline/contract';
import { validateMaintenanceInput } from '../steps/validate-input';

const log = new Logger('validate-maintenance-input');

export const handler: Handler<unknown, RunContext> = withLambdaContext(log, async (event: unknown) => {
  try {
    const run = validateMaintenanceInput(event);
    log.info('input accepted', { runId: run.runId, maintenance: run.maintenance });
    return run;
  } catch (error) {
    log.warn('input refused', { error });
    throw error;
  }
});
