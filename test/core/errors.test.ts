/** The error names are the state machines' Retry/Catch contract: ERROR_NAMES must say what the classes report. */
import { describe, expect, it } from 'vitest';
import { ERROR_NAMES } from '../../lambdas/core/contract';
import * as errors from '../../lambdas/core/errors';

type ErrorClass = new (message: string, options?: { cause?: unknown }) => Error;
const errorClasses: Array<[string, ErrorClass]> = Object.entries(errors as Record<string, unknown>)
  .filter(([, value]) => typeof value === 'function' && (value as ErrorClass).prototype instanceof Error)
  .map(([exported, value]) => [exported, value as ErrorClass]);

describe('named errors', () => {
  it('lists every error class in ERROR_NAMES once, under the name an instance reports', () => {
    // Prepare + Act
    const reported = errorClasses.map(([, ErrorClass]) => new ErrorClass('m').name).sort();

    // Assess
    expect(errorClasses.length).toBeGreaterThanOrEqual(12);
    expect(Object.values(ERROR_NAMES).sort()).toEqual(reported);
  });

  it('reports the class name itself and keeps the cause', () => {
    for (const [exported, ErrorClass] of errorClasses) {
      const cause = new Error('underlying');
      const error = new ErrorClass('m', { cause });

      expect(error.name, exported).toBe(exported);
      expect(error.cause, exported).toBe(cause);
    }
  });
});
