/**
 * Lambda entry of the batch report step (core: ../steps/write-report.ts, createWriteBatchReport);
 * settings checked at load. The VQE batch machine runs it as WriteBatchReport and WriteBatchFailureReport.
 */
import { S3Client } from '@aws-sdk/client-s3';
import type { Handler } from 'aws-lambda';
import { requireEnv } from '../../core/env';
import { Logger, withLambdaContext } from '../../core/logger';
import { RunStateStore } from '../../vqe-batch/state-store';
import { REPORT_ENV, type WriteReportResult } from '../contract';
import { consoleUrlFor, createWriteBatchReport } from '../steps/write-report';

const log = new Logger('write-batch-report');
const endpoint = process.env[REPORT_ENV.s3Endpoint] || undefined;
const s3 = new S3Client({
  ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});

export const handler: Handler<unknown, WriteReportResult> = withLambdaContext(
  log,
  createWriteBatchReport({
    s3,
    store: new RunStateStore(
      s3,
      requireEnv(process.env, REPORT_ENV.batchStateBucket),
      process.env[REPORT_ENV.batchStatePrefix] ?? '',
    ),
    bucket: requireEnv(process.env, REPORT_ENV.bucket),
    summaryUri: requireEnv(process.env, REPORT_ENV.summaryUri),
    consoleUrl: endpoint ? undefined : consoleUrlFor(process.env.AWS_REGION ?? 'us-east-1'),
    log,
  }),
);
