/** Lambda entry of the submit step (core: ../steps/submit-job.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import type { JobHandle } from '../shared/contracts';
import { backendFromEnv, readSettings } from '../shared/env';
import { createSubmitJob } from '../steps/submit-job';

export const handler: Handler<unknown, JobHandle> = createSubmitJob({
  backend: backendFromEnv(process.env),
  settings: readSettings(process.env),
});
