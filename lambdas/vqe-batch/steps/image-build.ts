/**
 * The optional first phase of a batch on the GPU host: `docker build` of the simulation image with
 * the CUDA architecture as build argument, started and then polled like a run (a build can take
 * longer than one Lambda invocation).
 */
import { z } from 'zod';
import { InvalidInputError } from '../../core/errors';
import { Logger } from '../../core/logger';
import { parseEvent } from '../../core/validation';
import type { BatchSettings } from '../contract';
import { RunHandle, type RunStatus } from '../launcher';

export interface ImageBuilder {
  buildImage(build: { image: string; contextDir: string; cudaArch: string; dockerfile?: string }): Promise<RunHandle>;
  status(handle: RunHandle): Promise<RunStatus>;
}

const ImageBuildEvent = z.discriminatedUnion('action', [
  z.object({ action: z.literal('start'), batchId: z.string().min(1) }).strict(),
  z.object({ action: z.literal('check'), batchId: z.string().min(1), handle: RunHandle }).strict(),
]);

export type ImageBuildResult =
  | { readonly ended: false; readonly handle: RunHandle }
  | {
      readonly ended: true;
      readonly succeeded: boolean;
      readonly exitCode: number;
      readonly stderrTail: string;
      readonly handle: RunHandle;
    };

export function createImageBuild({
  settings,
  builder,
  log = new Logger('vqe-batch-image-build'),
}: {
  settings: BatchSettings;
  builder: ImageBuilder;
  log?: Logger;
}) {
  return async (event: unknown): Promise<ImageBuildResult> => {
    const request = parseEvent(ImageBuildEvent, event, 'image-build');
    const { launcher } = settings;
    if (launcher.kind !== 'ssm' || !launcher.build) {
      throw new InvalidInputError(
        'image build: needs the SSM launcher with a build section (batch.build in the CDK config)',
      );
    }
    const buildLog = log.with({ batchId: request.batchId, image: launcher.image });
    if (request.action === 'start') {
      const handle = await builder.buildImage({ image: launcher.image, ...launcher.build });
      buildLog.info('image build started', {
        cudaArch: launcher.build.cudaArch,
        contextDir: launcher.build.contextDir,
      });
      return { ended: false, handle };
    }
    const { handle } = request;
    const status = await builder.status(handle);
    if (status.state === 'running') return { ended: false, handle };
    buildLog[status.exitCode === 0 ? 'info' : 'error']('image build ended', {
      exitCode: status.exitCode,
      detail: status.detail,
    });
    return {
      ended: true,
      succeeded: status.exitCode === 0,
      exitCode: status.exitCode,
      stderrTail: status.stderrTail,
      handle,
    };
  };
}
