/**
 * First state of the feature pipeline: the console or trigger input, checked once. Bad input
 * fails the execution at once with every bad field named (InvalidInputError, never retried).
 */
import { InvalidInputError } from '../../core/errors';
import { parseEvent, parseInput } from '../../core/validation';
import {
  MlParams,
  PipelineInput,
  Reprocess,
  type RunContext,
  RunContext as RunContextSchema,
  ValidateInputEvent,
} from '../contract';

const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(PipelineInput.shape),
  mlParams: Object.keys(MlParams.shape),
  reprocess: Object.keys(Reprocess.shape),
};

/** The rule of each console field in the words of the README's input table (zod names one bound at a time). */
const EXPECTATIONS: Record<string, string> = {
  '': 'expected an object such as {"maxFiles": 100} (or nothing)',
  maxFiles: 'expected a positive whole number',
  fullRefresh: 'expected true or false',
  skipMlFeatures: 'expected true or false',
  mlOnly: 'expected true or false',
  mlParams: 'expected an object with rollingWindow, trajectoryHead and/or trajectoryTail',
  'mlParams.rollingWindow': 'expected a whole number from 1 to 1000',
  'mlParams.trajectoryHead': 'expected a whole number from 1 to 1000',
  'mlParams.trajectoryTail': 'expected a whole number from 1 to 1000',
  reprocess:
    'expected an object such as {"prefix": "experiments/experiment.vqe/", "since": "2026-11-30"} ({} for every raw file)',
  'reprocess.since':
    'expected a date (2026-11-30, midnight UTC) or a date-time with its zone (2026-11-30T09:00:00Z, 2026-11-30T09:00:00+02:00)',
  trigger: 'expected a text of 1 to 64 characters',
  runId: 'expected 1 to 128 letters, digits or . _ : - starting with a letter or digit',
};

export function validateInput(event: unknown): RunContext {
  const { input, executionName } = parseEvent(ValidateInputEvent, event, 'validate-input');
  // The console sends {} or nothing at all for "all defaults"; both mean the same run.
  const raw = input ?? {};
  const options = parseInput(PipelineInput, raw, { knownKeys: KNOWN_KEYS, expectations: EXPECTATIONS });
  const conflict = conflictOf(options);
  if (conflict) throw new InvalidInputError(conflict);
  return parseInput(
    RunContextSchema,
    {
      runId: executionName,
      options,
      skipMlFeatures: options.skipMlFeatures ?? false,
      mlOnly: options.mlOnly ?? false,
    },
    {
      label: `execution name ${JSON.stringify(executionName)} cannot be a Spark run id`,
      expectations: EXPECTATIONS,
    },
  );
}

/** Options that each make sense alone but contradict each other, named with their values. */
function conflictOf(options: PipelineInput): string | undefined {
  if (options.fullRefresh && options.skipMlFeatures)
    return 'fullRefresh: true rebuilds the ML tables, skipMlFeatures: true skips them; choose one';
  if (options.mlOnly && options.skipMlFeatures)
    return 'mlOnly: true runs job 2 alone, skipMlFeatures: true runs job 1 alone; choose one';
  if (options.mlOnly && options.maxFiles !== undefined)
    return `maxFiles: ${options.maxFiles} bounds job 1, which mlOnly: true skips; leave one out`;
  if (options.reprocess && options.mlOnly)
    return 'reprocess re-ingests raw files in job 1, which mlOnly: true skips; leave one out';
  // One batch, so each table's rows are replaced in one commit (several runs would leave a mix).
  if (options.reprocess && options.maxFiles !== undefined)
    return `maxFiles: ${options.maxFiles} bounds job 1's batch, reprocess re-ingests its files in one batch (one commit per table); leave one out`;
  return undefined;
}
