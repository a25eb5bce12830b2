/**
 * Benchmark of the R2 sync against `rclone sync` on the same local data (not a test: it prints
 * figures). Both mirror from the features bucket (pipeline key) into the R2 stand-in bucket (its
 * own key) on the local Garage, with the same concurrency: 8 transfers, 4 checkers.
 *
 *   npm run bench:sync -- [--small 5000] [--large 20] [--large-mib 64] [--part-mib 16]
 *                         [--threshold-mib 128] [--part-concurrency 4] [--keep]
 *
 * Scenarios: N small objects (1-16 KiB, in nested folders), M large objects (multipart), then a
 * no-op resync of both. rclone is the Debian package (installed by this script when missing).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { runPool } from '../lambdas/core/pool';
import { s3ClientFor } from '../lambdas/r2-sync/engine/clients';
import type { Side } from '../lambdas/r2-sync/engine/listing';
import { syncPrefix } from '../lambdas/r2-sync/engine/sync';
import { MIB } from '../lambdas/r2-sync/engine/transfer';
import { localEndpoints, removeAll } from '../test/r2-sync/support';

function option(name: string, fallback: number): number {
  const index = process.argv.indexOf(`--${name}`);
  return index >= 0 ? Number(process.argv[index + 1]) : fallback;
}

function ensureRclone(): string {
  const found = spawnSync('rclone', ['version'], { encoding: 'utf8' });
  if (found.status !== 0) {
    process.stderr.write('rclone not found: installing the Debian package\n');
    execFileSync('apt-get', ['install', '-y', '-q', 'rclone'], {
      stdio: ['ignore', 'ignore', 'inherit'],
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
  return spawnSync('rclone', ['version'], { encoding: 'utf8' }).stdout.split('\n')[0];
}

async function fill(side: Side, small: number, large: number, largeMib: number): Promise<void> {
  const items = [
    ...Array.from({ length: small }, (_, i) => ({
      key: `small/d${i % 50}/e${i % 7}/part-${i}.parquet`,
      size: 1024 + ((i * 977) % (15 * 1024)),
    })),
    ...Array.from({ length: large }, (_, i) => ({ key: `large/part-${i}.parquet`, size: largeMib * MIB })),
  ];
  await runPool(items, 16, async ({ key, size }) => {
    await side.client.send(
      new PutObjectCommand({ Bucket: side.bucket, Key: side.prefix + key, Body: randomBytes(size) }),
    );
  });
}

function rcloneSync(endpoints: ReturnType<typeof localEndpoints>, from: string, to: string): void {
  const remote = (
    name: string,
    settings: typeof endpoints.source,
    credentials: typeof endpoints.sourceCredentials,
  ) => ({
    [`RCLONE_CONFIG_${name}_TYPE`]: 's3',
    [`RCLONE_CONFIG_${name}_PROVIDER`]: 'Other',
    [`RCLONE_CONFIG_${name}_ENDPOINT`]: settings.endpoint ?? '',
    [`RCLONE_CONFIG_${name}_REGION`]: settings.region,
    [`RCLONE_CONFIG_${name}_ACCESS_KEY_ID`]: credentials.accessKeyId,
    [`RCLONE_CONFIG_${name}_SECRET_ACCESS_KEY`]: credentials.secretAccessKey,
    [`RCLONE_CONFIG_${name}_FORCE_PATH_STYLE`]: 'true',
  });
  execFileSync(
    'rclone',
    [
      'sync',
      `src:${endpoints.source.bucket}/${from}`,
      `dst:${endpoints.destination.bucket}/${to}`,
      '--transfers',
      '8',
      '--checkers',
      '4',
    ],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
      // rclone's S3 client cannot combine AWS_CA_BUNDLE with its own HTTP transport (it refuses to
      // start); the endpoints here are plain http, so the bundle is left out of its environment.
      env: {
        ...withoutCaBundle(process.env),
        ...remote('SRC', endpoints.source, endpoints.sourceCredentials),
        ...remote('DST', endpoints.destination, endpoints.destinationCredentials),
      },
    },
  );
}

function withoutCaBundle(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { AWS_CA_BUNDLE: _ignored, ...rest } = env;
  return rest;
}

async function timed(action: () => unknown): Promise<number> {
  const started = performance.now();
  await action();
  return (performance.now() - started) / 1000;
}

async function main(): Promise<void> {
  const small = option('small', 5000);
  const large = option('large', 20);
  const largeMib = option('large-mib', 64);
  const transfer = {
    partSize: option('part-mib', 16) * MIB,
    multipartThreshold: option('threshold-mib', 128) * MIB,
    partConcurrency: option('part-concurrency', 4),
  };
  const rclone = ensureRclone();
  const base = `bench-sync-${randomUUID().slice(0, 8)}/`;
  const endpoints = localEndpoints(base);
  const client = {
    source: s3ClientFor(endpoints.source, endpoints.sourceCredentials),
    destination: s3ClientFor(endpoints.destination, endpoints.destinationCredentials),
  };
  const side = (name: 'source' | 'destination', prefix: string): Side => ({
    name,
    client: client[name],
    bucket: endpoints[name].bucket,
    prefix: base + prefix,
  });
  process.stderr.write(`filling ${small} small and ${large} x ${largeMib} MiB objects...\n`);
  await fill(side('source', 'src/'), small, large, largeMib);

  const ours = (scenario: string) => () =>
    syncPrefix({
      source: side('source', `src/${scenario}`),
      destination: side('destination', `ours/${scenario}`),
      transfers: 8,
      checkers: 4,
      dryRun: false,
      transfer,
    });
  const theirs = (scenario: string) => () =>
    rcloneSync(endpoints, `${base}src/${scenario}`, `${base}rclone/${scenario}`);
  const rows: Array<[string, number, number]> = [];
  for (const [label, scenario] of [
    [`${small} small objects`, 'small/'],
    [`${large} x ${largeMib} MiB objects`, 'large/'],
    ['no-op resync (both)', ''],
  ] as const) {
    const oursSeconds =
      scenario === '' ? (await timed(ours('small/'))) + (await timed(ours('large/'))) : await timed(ours(scenario));
    const rcloneSeconds =
      scenario === ''
        ? (await timed(theirs('small/'))) + (await timed(theirs('large/')))
        : await timed(theirs(scenario));
    rows.push([label, oursSeconds, rcloneSeconds]);
  }

  process.stdout.write(
    `\n${rclone}; ours: 8 transfers, 4 checkers, multipart above ${transfer.multipartThreshold / MIB} MiB in parts of ` +
      `${transfer.partSize / MIB} MiB x ${transfer.partConcurrency}; rclone: --transfers 8 --checkers 4\n`,
  );
  process.stdout.write(
    `${'scenario'.padEnd(28)}${'ours s'.padStart(9)}${'rclone s'.padStart(10)}${'ours/rclone'.padStart(13)}\n`,
  );
  for (const [label, a, b] of rows)
    process.stdout.write(
      `${label.padEnd(28)}${a.toFixed(1).padStart(9)}${b.toFixed(1).padStart(10)}${(a / b).toFixed(2).padStart(13)}\n`,
    );
  if (!process.argv.includes('--keep')) {
    await removeAll(client.source, endpoints.source.bucket, base);
    await removeAll(client.destination, endpoints.destination.bucket, base);
  }
}

main().catch((error: Error) => {
  process.stderr.write(`${error.name}: ${error.message}\n`);
  process.exit(1);
});
