/**
 * New raw objects start the pipeline locally as on AWS (infra/platform/object-arrivals.ts): the
 * synthesized debounce state machine runs in this process, the rule "Object Created" -> debounce
 * function is the template's own (the local bus evaluates its pattern), and the function's
 * StartExecution meets Step Functions' rule on names (a name seen before is refused once its
 * execution has ended; a repeat with the same input while it runs is accepted).
 *
 * Garage sends no events, so `LocalS3Notifications` plays S3's part: it lists the raw bucket
 * under a prefix and puts an "Object Created" event on the local bus for every key it has not seen,
 * whoever wrote it (the demo loader, mini-VQE, a test). Objects present when it starts are taken
 * as announced, as S3 announces only objects created after notifications were switched on.
 */
import { paginateListObjectsV2, type S3Client } from '@aws-sdk/client-s3';
import type { QuantumPipelineStack } from '../../infra/stack';
import { Logger } from '../../lambdas/core/logger';
import { type DebounceInput, OBJECT_ARRIVALS_ENV } from '../../lambdas/feature-pipeline/contract';
import {
  createDebounceObjects,
  type DebounceStarter,
  parseQuietSeconds,
} from '../../lambdas/feature-pipeline/steps/debounce';
import {
  type CfnTemplate,
  functionEnvironment,
  LOCAL_ACCOUNT,
  logicalIdOf,
  placeholderArn,
  resolveDefinition,
  resolveValue,
} from './definition';
import { hostBusBindings, type LocalEventBridge } from './local-events';
import { type LocalExecution, LocalStateMachineHost } from './local-host';

export interface LocalObjectArrivalsOptions {
  readonly template: CfnTemplate;
  readonly stack: QuantumPipelineStack;
  readonly bus: LocalEventBridge;
  /** Lists the raw bucket for LocalS3Notifications. */
  readonly s3: S3Client;
  /** The window in seconds (tests use a few). @default the template's QUIET_SECONDS (quietMinutes x 60) */
  readonly quietSeconds?: number;
  readonly lambdaLog?: (line: string) => void;
}

export interface LocalObjectArrivals {
  /** The debounce state machine. */
  readonly host: LocalStateMachineHost;
  /** Its executions, in the order the function started them (one per window). */
  readonly executions: LocalExecution[];
  readonly quietSeconds: number;
  /** The raw-results bucket, as the rule's pattern names it. */
  readonly bucket: string;
  /** S3's notifications for the objects written under `prefix` of the raw bucket from now on. */
  notifications(prefix: string, options?: { readonly drop?: (key: string) => boolean }): LocalS3Notifications;
}

export function createLocalObjectArrivals(options: LocalObjectArrivalsOptions): LocalObjectArrivals {
  const { stack, template, bus } = options;
  const trigger = stack.objectArrivals;
  const fnId = logicalIdOf(stack, trigger.debounceFunction);
  const env = functionEnvironment(template, fnId);
  const quietSeconds =
    options.quietSeconds ?? parseQuietSeconds(env[OBJECT_ARRIVALS_ENV.quietSeconds], OBJECT_ARRIVALS_ENV.quietSeconds);
  const machineId = logicalIdOf(stack, trigger.stateMachine);
  const host = new LocalStateMachineHost({
    definition: resolveDefinition(template, machineId),
    stateMachineName: String(template.Resources[machineId].Properties?.StateMachineName ?? machineId),
    stateMachineArn: placeholderArn(template, machineId),
    lambdaHandlers: {},
    ...hostBusBindings(bus),
  });
  const executions: LocalExecution[] = [];
  const starter = localStarter(host, executions);
  const log = new Logger('debounce-objects', {}, env.LOG_LEVEL ?? 'INFO', options.lambdaLog ?? (() => undefined));
  const debounce = createDebounceObjects({ starter, quietSeconds, log });
  bus.connectFunction(fnId, (event) => debounce(event));
  const bucket = resolveValue(template, stack.resolve(stack.buckets.rawResults.bucketName));
  return {
    host,
    executions,
    quietSeconds,
    bucket,
    notifications: (prefix, notificationOptions = {}) =>
      new LocalS3Notifications({ s3: options.s3, bus, bucket, prefix, drop: notificationOptions.drop }),
  };
}

/** StartExecution with Step Functions' rule on names, against the local host. */
function localStarter(host: LocalStateMachineHost, executions: LocalExecution[]): DebounceStarter {
  const byName = new Map<string, { readonly input: string; ended: boolean }>();
  return {
    async start(name: string, input: DebounceInput) {
      const text = JSON.stringify(input);
      const seen = byName.get(name);
      if (seen) return !seen.ended && seen.input === text ? 'started' : 'closed';
      const execution = host.start(input, name);
      const entry = { input: text, ended: false };
      byName.set(name, entry);
      executions.push(execution);
      const ended = () => {
        entry.ended = true;
      };
      execution.result.then(ended, ended);
      return 'started';
    },
  };
}

export interface LocalS3NotificationsProps {
  readonly s3: S3Client;
  readonly bus: LocalEventBridge;
  readonly bucket: string;
  readonly prefix: string;
  /** Events to lose on the way (a test of what a dropped event costs). @default none */
  readonly drop?: (key: string) => boolean;
}

/** S3's EventBridge notifications for one bucket prefix, by listing (Garage has none). */
export class LocalS3Notifications {
  /** The keys whose event was dropped (props.drop). */
  readonly dropped: string[] = [];
  private readonly seen = new Set<string>();
  private timer?: NodeJS.Timeout;
  private polling: Promise<number> = Promise.resolve(0);

  constructor(private readonly props: LocalS3NotificationsProps) {}

  /** Takes the objects there now as announced; returns how many. */
  async prime(): Promise<number> {
    const keys = await this.list();
    for (const key of keys.keys()) this.seen.add(key);
    return keys.size;
  }

  /** One listing: an "Object Created" event for each key not seen before; returns how many were put on the bus. */
  poll(): Promise<number> {
    // One listing at a time, so two polls never announce the same key twice.
    this.polling = this.polling.then(() => this.announceNew());
    return this.polling;
  }

  /** Primes, then polls every `intervalMs` until stop(). */
  async start(intervalMs = 1000): Promise<void> {
    await this.prime();
    this.timer = setInterval(() => void this.poll().catch(() => undefined), intervalMs);
  }

  /** Stops polling, after the listing under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.polling.catch(() => undefined);
  }

  private async announceNew(): Promise<number> {
    let announced = 0;
    for (const [key, object] of await this.list()) {
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      if (this.props.drop?.(key)) {
        this.dropped.push(key);
        continue;
      }
      this.props.bus.put({
        source: 'aws.s3',
        'detail-type': 'Object Created',
        resources: [`arn:aws:s3:::${this.props.bucket}`],
        detail: {
          version: '0',
          bucket: { name: this.props.bucket },
          object: { key, size: object.size, etag: object.etag },
          requester: LOCAL_ACCOUNT,
          reason: 'PutObject',
        },
      });
      announced += 1;
    }
    return announced;
  }

  private async list(): Promise<Map<string, { size?: number; etag?: string }>> {
    const found = new Map<string, { size?: number; etag?: string }>();
    const listing = { Bucket: this.props.bucket, Prefix: this.props.prefix };
    for await (const page of paginateListObjectsV2({ client: this.props.s3 }, listing)) {
      for (const object of page.Contents ?? []) {
        if (object.Key) found.set(object.Key, { size: object.Size, etag: object.ETag?.replace(/"/g, '') });
      }
    }
    return found;
  }
}
