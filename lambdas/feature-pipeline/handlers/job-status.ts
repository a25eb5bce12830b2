/** Lambda entry of the poll step (core: ../steps/job-status.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import type { JobStatus } from '../contract';
import { backendFromEnv } from '../settings';
import { createJobStatus } from '../steps/job-status';

export const handler: Handler<unknown, JobStatus> = createJobStatus({ backend: backendFromEnv(process.env) });
