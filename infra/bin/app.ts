/**
 * The CDK app: one typed config from the context (cdk.json, `-c key=value`), one stack, and the
 * cdk-nag AwsSolutions checks (an unacknowledged finding fails `cdk synth`).
 *
 *   npx cdk synth                      # profile aws
 *   npx cdk synth -c profile=local     # local profile (standalone Spark + Garage/LocalStack S3)
 */
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { buildApp } from '../assemble';
import { loadConfig } from '../config';

const app = new App();
buildApp(app, loadConfig(app.node.getAllContext()), join(__dirname, '..', '..', 'dist', 'spark-jobs'));
