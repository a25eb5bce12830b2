/** Lambda entry of the submit step (core: ../steps/submit-job.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { JobHandle } from '../contract';
import { backendFromEnv, readSettings } from '../settings';
import { createSubmitJob } from '../steps/submit-job';

const log = new Logger('submit-job');

export const handler: Handler<unknown, JobHandle> = withLambdaContext(
  log,
  createSubmitJob({
    backend: backendFromEnv(process.env),
    settings: readSettings(process.env),
    log,
  }),
);
