/** Which SDK failures the EMR Serverless backend and the SSM launcher retry, and which they report at once. */
import { describe, expect, it } from 'vitest';
import { isTransientAwsError } from '../../lambdas/core/transient';

describe('isTransientAwsError', () => {
  it.each([
    ['throttling, by name', { name: 'ThrottlingException' }],
    ['a quota, by name', { name: 'ServiceQuotaExceededException' }],
    ['a socket reset, by code', { name: 'Error', code: 'ECONNRESET' }],
    ['an unreachable host, by code', { code: 'EHOSTUNREACH' }],
    ['a timeout, by code', { code: 'TimeoutError' }],
    ['an error the SDK marks retryable', { name: 'Whatever', $retryable: { throttling: false } }],
    ['a 503 answer', { name: 'Whatever', $metadata: { httpStatusCode: 503 } }],
  ])('retries %s', (_what, error) => {
    expect(isTransientAwsError(error)).toBe(true);
  });

  it.each([
    ['access denied', { name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } }],
    ['a validation error', { name: 'ValidationException', $metadata: { httpStatusCode: 400 } }],
    ['a bug in our code', new TypeError('x is undefined')],
    ['nothing at all', undefined],
  ])('does not retry %s', (_what, error) => {
    expect(isTransientAwsError(error)).toBe(false);
  });
});
