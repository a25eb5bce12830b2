/** The `maintenance` section of the app configuration (infra/config.ts): the weekly table maintenance. */
import { z } from 'zod';
import { ctx, scheduleExpression } from '../common/config-schema';

/** Table maintenance (its own state machine, sharing the run slot): weekly, docs/operations.md. */
export const MaintenanceConfig = ctx(
  z
    .object({
      /** The weekly schedule; a disabled one stays deployed. */
      enabled: z.boolean().default(true),
      expression: scheduleExpression.default('cron(0 3 ? * SUN *)'),
      /** Tagged snapshots younger than this are kept. */
      retentionDays: z.number().int().min(1).max(3650).default(90),
      /** The last N snapshots of each table are kept, whatever their age. */
      retainLast: z.number().int().min(1).max(1000).default(5),
      /** Compaction's target data file size (1 MiB to 2 GiB). */
      targetFileSizeBytes: z
        .number()
        .int()
        .min(1024 * 1024)
        .max(2 * 1024 * 1024 * 1024)
        .default(128 * 1024 * 1024),
      /** Per attempt; the job is cancelled past it. */
      timeoutSeconds: z.number().int().positive().default(7200),
    })
    .strict(),
).default({
  enabled: true,
  expression: 'cron(0 3 ? * SUN *)',
  retentionDays: 90,
  retainLast: 5,
  targetFileSizeBytes: 128 * 1024 * 1024,
  timeoutSeconds: 7200,
});
