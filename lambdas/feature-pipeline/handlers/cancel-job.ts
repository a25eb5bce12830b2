/** Lambda entry of the cancel step (core: ../steps/cancel-job.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { CancelJobResult } from '../contract';
import { backendFromEnv } from '../settings';
import { createCancelJob } from '../steps/cancel-job';

const log = new Logger('cancel-job');

export const handler: Handler<unknown, CancelJobResult> = withLambdaContext(
  log,
  createCancelJob({ backend: backendFromEnv(process.env), log }),
);
