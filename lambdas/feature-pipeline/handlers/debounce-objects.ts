/** Lambda entry of the debounce step (core: ../steps/debounce.ts), the target of the raw-objects rule. */
import { SFNClient } from '@aws-sdk/client-sfn';
import type { Handler } from 'aws-lambda';
import { ConfigurationError } from '../../core/errors';
import { Logger, withLambdaContext } from '../../core/logger';
import { OBJECT_ARRIVALS_ENV } from '../contract';
import { createDebounceObjects, type DebounceResult, parseQuietSeconds, stepFunctionsStarter } from '../steps/debounce';

const log = new Logger('debounce-objects');
const stateMachineArn = process.env[OBJECT_ARRIVALS_ENV.stateMachineArn];
if (!stateMachineArn) {
  throw new ConfigurationError(`${OBJECT_ARRIVALS_ENV.stateMachineArn}: expected a state machine ARN, got nothing`);
}

export const handler: Handler<unknown, DebounceResult> = withLambdaContext(
  log,
  createDebounceObjects({
    // A burst of thousands of objects meets StartExecution's rate limit: retry well past the default 3.
    starter: stepFunctionsStarter(new SFNClient({ maxAttempts: 10 }), stateMachineArn),
    quietSeconds: parseQuietSeconds(process.env[OBJECT_ARRIVALS_ENV.quietSeconds], OBJECT_ARRIVALS_ENV.quietSeconds),
    log,
  }),
);
