/**
 * The LocalStack profile's compose file against the synthesized local-profile template: every
 * service the template needs is enabled, none is one the Community image lacks, the pinned image
 * runs the Lambdas' runtimes, and arm64 functions run on an x86 host. Derived from the template,
 * so a new resource type or grant that LocalStack must serve fails here until compose.yaml has it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { SyncSettings } from '../../lambdas/r2-sync/contract';
import { resolveValue } from '../../localstack/embedded/definition';
import { type Synthesized, synth } from '../infra/support';
import { type ComposeService, readComposeService } from './compose-file';
import {
  compareVersions,
  FIRST_LOCALSTACK_WITH_RUNTIME,
  missingServices,
  NOT_IN_COMMUNITY,
  type SynthesizedTemplate,
  servicesNeededBy,
} from './localstack-services';

const COMPOSE_DIR = join(__dirname, '..', '..', 'localstack', 'compose');
const enabledServices = (service: ComposeService): string[] =>
  (service.environment.SERVICES ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);
const functionsOf = (template: SynthesizedTemplate) =>
  Object.entries(template.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');

let local: Synthesized;
let localstack: ComposeService;
beforeAll(() => {
  local = synth({ profile: 'local' });
  localstack = readComposeService('localstack');
});

describe('compose SERVICES against the local-profile template', () => {
  it('enables every service the template, its grants and cdklocal need', () => {
    const { needs } = servicesNeededBy(local.json);

    // The ones the review found missing are among those derived, so the derivation is not empty.
    expect([...needs.keys()]).toEqual(expect.arrayContaining(['kms', 'secretsmanager', 'sqs', 'stepfunctions']));
    expect(missingServices(needs, enabledServices(localstack))).toEqual([]);
  });

  it('knows the LocalStack service of every resource type and granted action in the template', () => {
    expect(servicesNeededBy(local.json).unknown).toEqual([]);
  });

  it('needs nothing the Community image lacks, and enables nothing it lacks', () => {
    const { needs } = servicesNeededBy(local.json);
    const proOnly = [...needs]
      .filter(([service]) => service in NOT_IN_COMMUNITY)
      .map(([service, reasons]) => `${reasons.join('; ')} needs ${NOT_IN_COMMUNITY[service]}`);

    expect(proOnly).toEqual([]);
    expect(enabledServices(localstack).filter((service) => service in NOT_IN_COMMUNITY)).toEqual([]);
  });

  it('names the missing service and what needs it', () => {
    const { needs } = servicesNeededBy(local.json);
    const without = enabledServices(localstack).filter((s) => s !== 'kms' && s !== 'secretsmanager');
    const problems = missingServices(needs, without);

    expect(problems).toHaveLength(2);
    expect(problems.find((p) => p.includes('"kms"'))).toMatch(/needed by .*AWS::KMS::Key/);
    expect(problems.find((p) => p.includes('"secretsmanager"'))).toMatch(/action secretsmanager:GetSecretValue/);
  });

  it('would catch the aws profile: EMR Serverless and Glue are not in the Community image', () => {
    const { needs } = servicesNeededBy(synth({ profile: 'aws' }).json);

    expect(needs.get('emr-serverless')).toEqual(
      expect.arrayContaining([expect.stringMatching(/^AWS::EMRServerless::Application /)]),
    );
    expect(needs.get('glue')).toEqual(expect.arrayContaining([expect.stringMatching(/^AWS::Glue::Database /)]));
  });
});

describe('the LocalStack image and the Lambdas', () => {
  it('pins a LocalStack release that runs every Lambda runtime of the template', () => {
    const tag = /^localstack\/localstack:(\d+\.\d+\.\d+)$/.exec(localstack.image)?.[1];
    expect(tag, `compose.yaml image ${localstack.image}: expected localstack/localstack:<x.y.z>`).toBeDefined();

    const runtimes = new Set(functionsOf(local.json).map(([, r]) => String(r.Properties?.Runtime)));
    expect(runtimes.size).toBeGreaterThan(0);
    const problems = [...runtimes].flatMap((runtime) => {
      const first = FIRST_LOCALSTACK_WITH_RUNTIME[runtime];
      if (!first) return [`${runtime}: unknown to FIRST_LOCALSTACK_WITH_RUNTIME (look up the LocalStack release)`];
      return compareVersions(tag as string, first) < 0 ? [`${runtime} needs LocalStack >= ${first}, got ${tag}`] : [];
    });
    expect(problems).toEqual([]);
  });

  it('runs arm64 functions on the host architecture (LAMBDA_IGNORE_ARCHITECTURE)', () => {
    const arm64 = functionsOf(local.json).filter(([, r]) =>
      (r.Properties?.Architectures as string[] | undefined)?.includes('arm64'),
    );

    expect(arm64.length).toBeGreaterThan(0); // pipelineFunction builds for ARM; the flag below is why that is fine
    expect(localstack.environment.LAMBDA_IGNORE_ARCHITECTURE).toBe('1');
    // A layer could hold native arm64 code, which the flag would then run on the wrong CPU.
    expect(arm64.filter(([, r]) => r.Properties?.Layers !== undefined).map(([id]) => id)).toEqual([]);
  });

  it('starts without an auth token and takes another image from QP_LOCALSTACK_IMAGE', () => {
    expect(localstack.environment.LOCALSTACK_AUTH_TOKEN).toBe('');
    const newer = readComposeService('localstack', {
      QP_LOCALSTACK_IMAGE: 'localstack/localstack:2026.11.0',
      LOCALSTACK_AUTH_TOKEN: 'from-the-shell',
    });

    expect(newer.image).toBe('localstack/localstack:2026.11.0');
    expect(newer.environment.LOCALSTACK_AUTH_TOKEN).toBe('from-the-shell');
  });
});

describe('provision.sh and deploy.sh against the template', () => {
  const script = (name: string) => readFileSync(join(COMPOSE_DIR, name), 'utf8');
  const defaultOf = (text: string, variable: string) => new RegExp(`\\$\\{${variable}:-([^}]+)\\}`).exec(text)?.[1];

  it('creates the secret and the R2 stand-in bucket the R2 sync reads', () => {
    const syncFunctions = functionsOf(local.json)
      .map(([, r]) => (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables)
      .filter((variables) => variables?.R2_CREDENTIALS_SECRET_ARN !== undefined) as Record<string, unknown>[];
    expect(syncFunctions.length).toBeGreaterThan(0);
    const secretArns = new Set(syncFunctions.map((v) => resolveValue(local.json, v.R2_CREDENTIALS_SECRET_ARN)));
    const buckets = new Set(
      syncFunctions.map(
        (v) => SyncSettings.parse(JSON.parse(resolveValue(local.json, v.SYNC_SETTINGS))).destination.bucket,
      ),
    );
    const provision = script('provision.sh');

    expect([...secretArns]).toEqual([
      `arn:aws:secretsmanager:us-east-1:000000000000:secret:${defaultOf(provision, 'QP_R2_SECRET_NAME')}`,
    ]);
    expect([...buckets]).toEqual([defaultOf(provision, 'QP_R2_STANDIN_BUCKET')]);
  });

  it("prints the feature pipeline's real state machine name as the next step", () => {
    const names = Object.values(local.json.Resources)
      .filter((r) => r.Type === 'AWS::StepFunctions::StateMachine')
      .map((r) => String(r.Properties?.StateMachineName));

    const hinted = /stateMachine:([A-Za-z0-9-]+)/.exec(script('deploy.sh'))?.[1];
    expect(names).toContain(hinted);
    expect(hinted).toMatch(/-feature-pipeline$/);
  });
});
