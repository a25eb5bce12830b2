/** Lambda entry of the validate-input step (core: ../steps/validate-input.ts). */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { RunContext } from '../contract';
import { validateInput } from '../steps/validate-input';

const log = new Logger('validate-input');

export const handler: Handler<unknown, RunContext> = withLambdaContext(log, async (event: unknown) => {
  try {
    const run = validateInput(event);
    log.info('input accepted', { runId: run.runId, options: run.options });
    return run;
  } catch (error) {
    log.warn('input refused', { error });
    throw error;
  }
});
