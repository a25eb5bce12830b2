/** The deployed settings (SYNC_SETTINGS) the sync's unit tests run with: an AWS source, an R2 destination. */
import type { SyncSettings } from '../../lambdas/r2-sync/contract';

export const syncSettings: SyncSettings = {
  source: { bucket: 'features', prefix: 'warehouse/ns/', region: 'eu-west-1', forcePathStyle: false },
  destination: {
    bucket: 'qp-data',
    prefix: 'features/',
    endpoint: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com',
    region: 'auto',
    forcePathStyle: true,
  },
  tables: ['ml_iteration_features', 'ml_run_summary'],
  transfers: 2,
  checkers: 2,
  partSizeMiB: 8,
  multipartThresholdMiB: 16,
  partConcurrency: 2,
  safetyMarginSeconds: 60,
  maxDeleteFraction: 0.5,
  maxDeleteCount: 1000,
};
