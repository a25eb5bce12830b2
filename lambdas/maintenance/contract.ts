/**
 * The table-maintenance state machine's own shapes: its console input and its validation step's
 * event. The Spark steps (run slot, submit, poll, summary) are the feature pipeline's, with job
 * kind `maintenance` (lambdas/feature-pipeline/contract.ts).
 */
import { z } from 'zod';
import { MaintenanceOptions } from '../feature-pipeline/contract';

/** Console input (strict: an unknown key is an error); the deployed defaults fill what is absent. */
export const MaintenanceInput = MaintenanceOptions.partial()
  .extend({
    /** Free text recorded in the logs (e.g. "schedule", "console"). */
    trigger: z.string().min(1).max(64).optional(),
  })
  .strict();
export type MaintenanceInput = z.infer<typeof MaintenanceInput>;

/** Event of the validation step: the raw input, the execution name and the deployed defaults. */
export const ValidateMaintenanceEvent = z.object({
  input: z.unknown(),
  executionName: z.string().min(1),
  defaults: MaintenanceOptions,
});
export type ValidateMaintenanceEvent = z.infer<typeof ValidateMaintenanceEvent>;
