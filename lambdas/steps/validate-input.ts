/**
 * First state of the feature pipeline: the console or trigger input, checked once. Bad input
 * fails the execution at once with every bad field named (InvalidInputError, never retried).
 */
import { MlParams, PipelineInput, type RunContext, RunContext as RunContextSchema, ValidateInputEvent } from '../shared/contracts';
import { InvalidInputError } from '../shared/errors';
import { describeIssues } from '../shared/validation';

const KNOWN_KEYS: Record<string, readonly string[]> = {
  '': Object.keys(PipelineInput.shape),
  mlParams: Object.keys(MlParams.shape),
};

export function validateInput(event: unknown): RunContext {
  const parsedEvent = ValidateInputEvent.safeParse(event);
  if (!parsedEvent.success) throw new InvalidInputError(`validate-input event: ${describeIssues(parsedEvent.error, event)}`);
  const raw = parsedEvent.data.input ?? {};
  const options = PipelineInput.safeParse(raw);
  if (!options.success) {
    throw new InvalidInputError(describeIssues(options.error, raw, (path) => KNOWN_KEYS[path] ?? []));
  }
  if (options.data.fullRefresh && options.data.skipMlFeatures) {
    throw new InvalidInputError('fullRefresh: true rebuilds the ML tables, skipMlFeatures: true skips them; choose one');
  }
  const context = RunContextSchema.safeParse({
    runId: parsedEvent.data.executionName,
    options: options.data,
    skipMlFeatures: options.data.skipMlFeatures ?? false,
  });
  if (!context.success) {
    throw new InvalidInputError(`execution name ${JSON.stringify(parsedEvent.data.executionName)} cannot be a Spark run id: `
      + describeIssues(context.error, { runId: parsedEvent.data.executionName }));
  }
  return context.data;
}
