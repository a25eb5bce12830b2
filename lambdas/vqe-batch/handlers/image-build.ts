/** Lambda entry of the image build on the GPU host (core: ../steps/batch-image-build.ts); settings checked at load. */
import type { Handler } from 'aws-lambda';
import { readBatchSettings, ssmLauncherFor } from '../settings';
import { createImageBuild, type ImageBuildResult } from '../steps/image-build';

const settings = readBatchSettings(process.env);
const build = createImageBuild({ settings, builder: ssmLauncherFor(settings) });

export const handler: Handler<unknown, ImageBuildResult> = (event) => build(event);
