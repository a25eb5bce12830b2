/** Lambda entry of the report step (core: ../steps/write-report.ts); settings checked at load. */
import { S3Client } from '@aws-sdk/client-s3';
import type { Handler } from 'aws-lambda';
import { requireEnv } from '../../core/env';
import { Logger, withLambdaContext } from '../../core/logger';
import { REPORT_ENV, type WriteReportResult } from '../contract';
import { consoleUrlFor, createWriteReport } from '../steps/write-report';

const log = new Logger('write-report');
const endpoint = process.env[REPORT_ENV.s3Endpoint] || undefined;

export const handler: Handler<unknown, WriteReportResult> = withLambdaContext(
  log,
  createWriteReport({
    s3: new S3Client({
      ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    }),
    bucket: requireEnv(process.env, REPORT_ENV.bucket),
    summaryUri: requireEnv(process.env, REPORT_ENV.summaryUri),
    consoleUrl: endpoint ? undefined : consoleUrlFor(process.env.AWS_REGION ?? 'us-east-1'),
    log,
  }),
);
