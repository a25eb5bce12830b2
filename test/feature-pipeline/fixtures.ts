/** The deployed settings (PIPELINE_SETTINGS) the feature pipeline's unit tests run their steps with. */
import type { PipelineSettings } from '../../lambdas/feature-pipeline/contract';

export const pipelineSettings: PipelineSettings = {
  catalog: 'quantum_catalog',
  namespace: 'quantum_features',
  rawUri: 's3a://raw-results/experiments',
  summaryUri: 's3a://features/pipeline-runs',
  sparkConf: {},
  extraSubmitArgs: [],
  resources: { driverCores: 1, driverMemory: '1g', executorCores: 1, executorMemory: '1536m' },
  jobTimeoutSeconds: { features: 7200, 'ml-features': 3600 },
  mlDefaults: { rollingWindow: 5, trajectoryHead: 10, trajectoryTail: 10 },
};
