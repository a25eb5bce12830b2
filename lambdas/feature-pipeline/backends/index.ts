/**
 * The Spark backends behind one interface. `createBackend(env)` picks one by SPARK_BACKEND
 * (defined in ../env.ts, next to the other environment readers; re-exported here by the name
 * the backends are known by).
 */
export { backendFromEnv as createBackend } from '../settings';
export { EmrServerlessBackend, type EmrServerlessBackendProps, sparkSubmitParameters } from './emr-serverless';
export { StandaloneBackend, type StandaloneBackendProps } from './standalone';
export { type BackendJobStatus, type CancelOutcome, resolveArtifact, resourceConf, type SparkBackend } from './types';
