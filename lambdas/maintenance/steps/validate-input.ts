/**
 * First state of table maintenance: the console or schedule input, checked once and completed
 * with the deployed defaults. Bad input fails the execution at once, every bad field named
 * (InvalidInputError, never retried).
 */
import { parseEvent, parseInput } from '../../core/validation';
import { type RunContext, RunContext as RunContextSchema } from '../../feature-pipeline/contract';
import { MaintenanceInput, ValidateMaintenanceEvent } from '../contract';

const KNOWN_KEYS: Record<string, readonly string[]> = { '': Object.keys(MaintenanceInput.shape) };

/** Each field's rule in the words of docs/operations.md. */
const EXPECTATIONS: Record<string, string> = {
  '': 'expected an object such as {"retentionDays": 30} (or nothing)',
  retentionDays: 'expected a whole number of days from 1 to 3650',
  retainLast: 'expected a whole number from 1 to 1000',
  targetFileSizeBytes: 'expected a whole number of bytes from 1048576 (1 MiB) to 2147483648 (2 GiB)',
  tables: 'expected a non-empty list of table names (letters, digits, _)',
  trigger: 'expected a text of 1 to 64 characters',
  runId: 'expected 1 to 128 letters, digits or . _ : - starting with a letter or digit',
};

export function validateMaintenanceInput(event: unknown): RunContext {
  const { input, executionName, defaults } = parseEvent(ValidateMaintenanceEvent, event, 'validate-maintenance-input');
  // The console sends {} or nothing at all for "all defaults"; both mean the same run.
  const { trigger, ...overrides } = parseInput(MaintenanceInput, input ?? {}, {
    knownKeys: KNOWN_KEYS,
    expectations: EXPECTATIONS,
  });
  return parseInput(
    RunContextSchema,
    {
      runId: executionName,
      options: trigger ? { trigger } : {},
      skipMlFeatures: true,
      maintenance: { ...defaults, ...overrides },
    },
    {
      label: `execution name ${JSON.stringify(executionName)} cannot be a Spark run id`,
      expectations: EXPECTATIONS,
    },
  );
}
