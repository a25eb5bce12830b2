/**
 * The batch's durable state in S3 (AWS, LocalStack and Garage alike), under one prefix:
 *
 *   runs/<run key>.json              the run's state (RunState), rewritten at each transition
 *   done/<run key>                   a marker once a run is done (its batch id): the planner lists these
 *   batches/<batch id>/batch.json    the batch record (BatchRef and the console input)
 *   batches/<batch id>/<lane>.json   the lane's planned runs, in order (too large for a payload)
 *
 * A done run is never rewritten, so the markers and the states agree.
 */
import {
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  paginateListObjectsV2,
  type S3Client,
} from '@aws-sdk/client-s3';
import { runPool } from '../core/pool';
import { type BatchRef, RunState } from './contract';
import type { Lane, PlannedRun } from './plan';

export interface BatchRecord extends BatchRef {
  readonly input: unknown;
  readonly lanes: Partial<Record<Lane, number>>;
}

export class RunStateStore {
  constructor(
    private readonly s3: S3Client,
    private readonly bucket: string,
    private readonly prefix: string,
  ) {}

  async readRun(key: string): Promise<RunState | undefined> {
    const text = await this.getText(`${this.prefix}runs/${key}.json`);
    return text === undefined ? undefined : RunState.parse(JSON.parse(text));
  }

  async writeRun(state: RunState): Promise<void> {
    await this.put(`${this.prefix}runs/${state.key}.json`, JSON.stringify(RunState.parse(state)));
    // The marker holds the id of the batch that did the run.
    if (state.status === 'done') await this.put(`${this.prefix}done/${state.key}`, state.batchId);
  }

  /** Every run key marked done, in any batch. */
  async doneKeys(): Promise<Set<string>> {
    const keys = await this.listKeys(`${this.prefix}done/`);
    return new Set(keys.map((key) => key.slice(`${this.prefix}done/`.length)));
  }

  async writePlan(batchId: string, lane: Lane, runs: readonly PlannedRun[]): Promise<void> {
    await this.put(`${this.prefix}batches/${batchId}/${lane}.json`, JSON.stringify(runs));
  }

  async readPlan(batchId: string, lane: Lane): Promise<PlannedRun[]> {
    const text = await this.getText(`${this.prefix}batches/${batchId}/${lane}.json`);
    if (text === undefined)
      throw new Error(
        `no plan of lane ${lane} in batch ${batchId} (s3://${this.bucket}/${this.prefix}batches/${batchId}/)`,
      );
    return JSON.parse(text) as PlannedRun[];
  }

  async writeBatch(record: BatchRecord): Promise<void> {
    await this.put(`${this.prefix}batches/${record.batchId}/batch.json`, JSON.stringify(record));
  }

  async readBatch(batchId: string): Promise<BatchRecord | undefined> {
    const text = await this.getText(`${this.prefix}batches/${batchId}/batch.json`);
    return text === undefined ? undefined : (JSON.parse(text) as BatchRecord);
  }

  /** The batch ids, oldest first (ids start with their start time). */
  async batchIds(): Promise<string[]> {
    const ids: string[] = [];
    const folder = `${this.prefix}batches/`;
    for await (const page of paginateListObjectsV2(
      { client: this.s3 },
      { Bucket: this.bucket, Prefix: folder, Delimiter: '/' },
    )) {
      for (const { Prefix } of page.CommonPrefixes ?? []) if (Prefix) ids.push(Prefix.slice(folder.length, -1));
    }
    return ids.sort();
  }

  /** The states of these keys (undefined where none was written yet), read 16 at a time. */
  async readRuns(keys: readonly string[]): Promise<Map<string, RunState | undefined>> {
    const states = new Map<string, RunState | undefined>();
    await runPool(keys, 16, async (key) => {
      states.set(key, await this.readRun(key));
    });
    return states;
  }

  private async put(key: string, body: string): Promise<void> {
    await this.s3.send(
      new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: 'application/json' }),
    );
  }

  private async getText(key: string): Promise<string | undefined> {
    try {
      const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      return await response.Body?.transformToString();
    } catch (error) {
      if (error instanceof NoSuchKey || (error as { name?: string }).name === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  private async listKeys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    for await (const page of paginateListObjectsV2({ client: this.s3 }, { Bucket: this.bucket, Prefix: prefix })) {
      for (const { Key } of page.Contents ?? []) if (Key) keys.push(Key);
    }
    return keys;
  }
}
