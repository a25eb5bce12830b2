/**
 * The LocalStack profile's scripts without Docker: provision.sh against a stand-in `docker` that
 * keeps LocalStack's buckets and secrets in a file (the real CLI boundary, `docker compose exec
 * localstack awslocal ...`, with the state LocalStack would hold), and load-demo-data.sh for real
 * (the project's venv and demo_data.py) against a local HTTP server standing in for LocalStack's S3.
 */
import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const COMPOSE_DIR = join(__dirname, '..', '..', 'localstack', 'compose');
const scratch = mkdtempSync(join(tmpdir(), 'qp-compose-scripts-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a script asynchronously (the S3 stand-in answers from this same event loop). */
function run(script: string, args: string[], env: Record<string, string | undefined>): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [join(COMPOSE_DIR, script), ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

interface FakeState {
  buckets: string[];
  secrets: Record<string, string>;
  calls: { args: string[]; stdin: string }[];
  /** Makes get-secret-value refuse the suffix-less ARN, as an emulator without partial ARNs would. */
  noPartialArns?: boolean;
}

/** A `docker` that accepts only `compose -f .../compose.yaml exec -T localstack awslocal --region R ...`. */
const FAKE_DOCKER = `#!/usr/bin/env node
const fs = require('node:fs');
const file = process.env.FAKE_LOCALSTACK_STATE;
const state = JSON.parse(fs.readFileSync(file, 'utf8'));
const argv = process.argv.slice(2);
const prefix = ['compose', '-f', argv[2], 'exec', '-T', 'localstack', 'awslocal', '--region'];
if (!argv[2]?.endsWith('/compose.yaml') || prefix.some((word, i) => argv[i] !== word)) {
  console.error('unexpected docker call: ' + argv.join(' ')); process.exit(2);
}
const [region, service, op, ...rest] = argv.slice(8);
const opt = (name) => rest[rest.indexOf(name) + 1];
const stdin = rest.includes('file:///dev/stdin') ? fs.readFileSync(0, 'utf8').trim() : '';
state.calls.push({ args: argv.slice(7), stdin });
const save = () => fs.writeFileSync(file, JSON.stringify(state));
const fail = (message) => { save(); console.error(message); process.exit(254); };
const key = service + ' ' + op;
if (key === 's3api head-bucket') { if (!state.buckets.includes(opt('--bucket'))) fail('Not Found'); }
else if (key === 's3api create-bucket') state.buckets.push(opt('--bucket'));
else if (key === 'secretsmanager describe-secret') { if (!(opt('--secret-id') in state.secrets)) fail('ResourceNotFoundException'); }
else if (key === 'secretsmanager create-secret') {
  if (opt('--name') in state.secrets) fail('ResourceExistsException');
  state.secrets[opt('--name')] = stdin;
} else if (key === 'secretsmanager put-secret-value') {
  if (!(opt('--secret-id') in state.secrets)) fail('ResourceNotFoundException');
  state.secrets[opt('--secret-id')] = stdin;
} else if (key === 'secretsmanager get-secret-value') {
  const m = /^arn:aws:secretsmanager:([^:]+):000000000000:secret:(.+)$/.exec(opt('--secret-id'));
  if (state.noPartialArns || !m || m[1] !== region || !(m[2] in state.secrets)) fail('ResourceNotFoundException');
  console.log(m[2]);
} else { console.error('unexpected awslocal call: ' + key); process.exit(2); }
save();
`;

function fakeLocalStack(initial: Partial<FakeState> = {}) {
  const dir = mkdtempSync(join(scratch, 'docker-'));
  writeFileSync(join(dir, 'docker'), FAKE_DOCKER);
  chmodSync(join(dir, 'docker'), 0o755);
  const stateFile = join(dir, 'state.json');
  writeFileSync(stateFile, JSON.stringify({ buckets: [], secrets: {}, calls: [], ...initial }));
  return {
    env: { PATH: `${dir}:${process.env.PATH}`, FAKE_LOCALSTACK_STATE: stateFile },
    state: (): FakeState => JSON.parse(readFileSync(stateFile, 'utf8')),
  };
}

const noOverrides = {
  QP_LOCALSTACK_R2_ACCESS_KEY_ID: undefined,
  QP_LOCALSTACK_R2_SECRET_ACCESS_KEY: undefined,
  QP_R2_SECRET_NAME: undefined,
  QP_R2_STANDIN_BUCKET: undefined,
  QP_LOCALSTACK_REGION: undefined,
};

describe('provision.sh', () => {
  it('creates the R2 stand-in bucket and the secret with the placeholder key, then checks the ARN the sync reads', async () => {
    const localstack = fakeLocalStack();

    const ran = await run('provision.sh', [], { ...noOverrides, ...localstack.env });

    expect(ran.stderr).toBe('');
    expect(ran.code).toBe(0);
    expect(ran.stdout.split('\n')).toEqual([
      'bucket s3://qp-data: created',
      'secret quantum-pipeline/r2-credentials: created',
      'secret quantum-pipeline/r2-credentials: readable by the ARN the R2 sync uses',
      '',
    ]);
    const state = localstack.state();
    expect(state.buckets).toEqual(['qp-data']);
    expect(JSON.parse(state.secrets['quantum-pipeline/r2-credentials'])).toEqual({
      accessKeyId: 'test',
      secretAccessKey: 'test',
    });
    expect(state.calls.every((call) => call.args[1] === 'us-east-1')).toBe(true);
    // The key travels on stdin, never as an argument.
    expect(state.calls.flatMap((call) => call.args).filter((arg) => arg.includes('secretAccessKey'))).toEqual([]);
  });

  it('is safe to run again: keeps the bucket and stores the new key as the secret value', async () => {
    const localstack = fakeLocalStack();
    await run('provision.sh', [], { ...noOverrides, ...localstack.env });

    const again = await run('provision.sh', [], {
      ...noOverrides,
      ...localstack.env,
      QP_LOCALSTACK_R2_ACCESS_KEY_ID: 'example-key-id',
      QP_LOCALSTACK_R2_SECRET_ACCESS_KEY: 'example/secret+value=',
    });

    expect(again.code).toBe(0);
    expect(again.stdout).toContain('bucket s3://qp-data: exists');
    expect(again.stdout).toContain('secret quantum-pipeline/r2-credentials: new value stored');
    const state = localstack.state();
    expect(state.buckets).toEqual(['qp-data']);
    expect(JSON.parse(state.secrets['quantum-pipeline/r2-credentials'])).toEqual({
      accessKeyId: 'example-key-id',
      secretAccessKey: 'example/secret+value=',
    });
    expect(state.calls.filter((call) => call.args[3] === 'create-secret')).toHaveLength(1);
  });

  it('refuses a key it cannot put in JSON, naming the variable but not the value, before any call', async () => {
    const localstack = fakeLocalStack();

    const ran = await run('provision.sh', [], {
      ...noOverrides,
      ...localstack.env,
      QP_LOCALSTACK_R2_SECRET_ACCESS_KEY: 'has"quote',
    });

    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain('QP_LOCALSTACK_R2_SECRET_ACCESS_KEY: expected a key without quotes');
    expect(ran.stderr).not.toContain('has"quote');
    expect(localstack.state().calls).toEqual([]);
  });

  it('fails at once when LocalStack does not resolve the suffix-less secret ARN', async () => {
    const localstack = fakeLocalStack({ noPartialArns: true });

    const ran = await run('provision.sh', [], { ...noOverrides, ...localstack.env });

    expect(ran.code).toBe(1);
    expect(ran.stderr).toContain(
      'LocalStack did not resolve arn:aws:secretsmanager:us-east-1:000000000000:secret:quantum-pipeline/r2-credentials',
    );
  });
});

describe('load-demo-data.sh', () => {
  it("writes demo_data.py's records to raw-results on the LocalStack endpoint, with LocalStack's credentials", async () => {
    const requests: { method?: string; url?: string; authorization?: string; body: string }[] = [];
    const server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (chunk) => {
        body += chunk;
      });
      req.on('end', () => {
        requests.push({ method: req.method, url: req.url, authorization: req.headers.authorization, body });
        res.writeHead(200, { ETag: '"0"' }).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;

    try {
      const ran = await run('load-demo-data.sh', ['--count', '3', '--start', '10'], {
        QP_LOCALSTACK_ENDPOINT: `http://127.0.0.1:${port}`,
        QP_LOCALSTACK_REGION: undefined,
        // The embedded data plane's settings in the caller's shell must not leak in.
        QP_S3_ENDPOINT: 'http://127.0.0.1:1',
        AWS_ACCESS_KEY_ID: 'garage-key-of-the-caller',
        AWS_SECRET_ACCESS_KEY: 'not-for-localstack',
      });

      expect(ran.stderr).toBe('');
      expect(ran.code).toBe(0);
      expect(ran.stdout.trim()).toBe('uploaded 3 records to s3://raw-results/experiments/experiment.vqe/');
      expect(requests.map((r) => `${r.method} ${r.url?.split('?')[0]}`)).toEqual(
        [10, 11, 12].map(
          (i) =>
            `PUT /raw-results/experiments/experiment.vqe/${String(i).padStart(6, '0')}-${1_700_000_000_000_000_000n + BigInt(i)}.json`,
        ),
      );
      for (const request of requests) {
        expect(request.authorization).toMatch(/Credential=test\/\d{8}\/us-east-1\/s3\/aws4_request/);
      }
      expect(requests[0].body).toContain('"vqe_result"');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
