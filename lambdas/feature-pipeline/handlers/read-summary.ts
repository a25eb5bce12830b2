/** Lambda entry of the summary step (core: ../steps/read-summary.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import type { JobOutcome } from '../contract';
import { findingsPublisherFromEnv, readSettings, s3ClientFromEnv } from '../settings';
import { createReadSummary } from '../steps/read-summary';

const log = new Logger('read-summary');

export const handler: Handler<unknown, JobOutcome> = withLambdaContext(
  log,
  createReadSummary({
    s3: s3ClientFromEnv(process.env),
    settings: readSettings(process.env),
    findings: findingsPublisherFromEnv(process.env, log),
    log,
  }),
);
