/** Lambda entry of the poll step (core: ../steps/job-status.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { JobStatus } from '../contract';
import { backendFromEnv } from '../settings';
import { createJobStatus } from '../steps/job-status';

const log = new Logger('job-status');

export const handler: Handler<unknown, JobStatus> = withLambdaContext(
  log,
  createJobStatus({ backend: backendFromEnv(process.env), log }),
);
