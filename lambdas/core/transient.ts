/**
 * Whether an AWS SDK call's failure is worth retrying: the service throttled us, failed inside, is
 * at a quota, timed out, or could not be reached. Throttling and similar errors are not modelled
 * classes of every SDK client (they arrive as the client's service exception with that `name`),
 * and the Node HTTP handler's socket and DNS failures carry only a `code`, so both are compared by
 * name rather than by class. Shared by the EMR Serverless backend and the SSM launcher.
 */
const TRANSIENT_NAMES = new Set([
  'ThrottlingException',
  'TooManyRequestsException',
  'InternalServerError',
  'InternalServerException',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServiceQuotaExceededException',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'NetworkingError',
]);

/** Socket and DNS failures of Node's HTTP stack. */
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);

interface SdkErrorShape {
  readonly name?: string;
  readonly code?: string;
  readonly $retryable?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number };
}

export function isTransientAwsError(error: unknown): boolean {
  const e = (error ?? {}) as SdkErrorShape;
  return (
    [e.name, e.code].some((label) => TRANSIENT_NAMES.has(label ?? '') || NETWORK_CODES.has(label ?? '')) ||
    Boolean(e.$retryable) ||
    (e.$metadata?.httpStatusCode ?? 0) >= 500
  );
}
