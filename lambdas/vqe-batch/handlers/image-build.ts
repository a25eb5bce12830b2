/** Lambda entry of the image build on the GPU host (core: ../steps/image-build.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { Logger, withLambdaContext } from '../../core/logger';
import { readBatchSettings, ssmLauncherFor } from '../settings';
import { createImageBuild, type ImageBuildResult } from '../steps/image-build';

const settings = readBatchSettings(process.env);
const log = new Logger('vqe-batch-image-build');
const build = createImageBuild({ settings, builder: ssmLauncherFor(settings), log });

export const handler: Handler<unknown, ImageBuildResult> = withLambdaContext(log, (event: unknown) => build(event));
