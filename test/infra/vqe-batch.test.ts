/** The "vqe batch generation" part of the stack: when it is deployed, its two machines, settings, IAM, trigger and validations. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../../infra/assemble';
import { batchEnabled, ConfigError, loadConfig } from '../../infra/config';
import { VqeBatch, type VqeBatchProps } from '../../infra/vqe-batch/vqe-batch';
import { BatchSettings } from '../../lambdas/vqe-batch/contract';
import { type AslState, resolveDefinition, resolveValue } from '../../localstack/embedded/definition';
import { fakeSparkArtifacts, type Synthesized, synth } from './support';

const INSTANCE = 'i-0123456789abcdef0';
const HOST = { instanceId: INSTANCE };
const FUNCTIONS = ['plan', 'start-run', 'check-run', 'image-build', 'summary'] as const;
type BatchFunction = (typeof FUNCTIONS)[number];

function logicalId(s: Synthesized, construct: { node: { defaultChild?: unknown } }): string {
  return s.stack.getLogicalId(construct.node.defaultChild as never);
}

/** BATCH_SETTINGS of one batch function, tokens resolved, checked against the contract the Lambdas load. */
function settingsOf(s: Synthesized, fn: BatchFunction = 'start-run'): BatchSettings {
  const variables =
    (
      s.json.Resources[logicalId(s, s.stack.vqeBatch!.functions[fn])].Properties?.Environment as
        | {
            Variables: Record<string, unknown>;
          }
        | undefined
    )?.Variables ?? {};
  return BatchSettings.parse(JSON.parse(resolveValue(s.json, variables.BATCH_SETTINGS)));
}

interface Statement {
  readonly actions: string[];
  readonly resources: string[];
  readonly condition?: Record<string, Record<string, string>>;
}

/** Every statement of the inline policies of one function's role, actions and resources as plain strings. */
function statementsOf(s: Synthesized, fn: BatchFunction): Statement[] {
  const roleId = logicalId(s, s.stack.vqeBatch!.functions[fn].role!);
  return Object.values(s.json.Resources)
    .filter(
      (r) =>
        r.Type === 'AWS::IAM::Policy' &&
        JSON.stringify((r.Properties as { Roles: unknown }).Roles).includes(`"${roleId}"`),
    )
    .flatMap(
      (r) => (r.Properties as { PolicyDocument: { Statement: Record<string, unknown>[] } }).PolicyDocument.Statement,
    )
    .map((st) => ({
      actions: ([] as unknown[]).concat(st.Action).map(String),
      resources: ([] as unknown[]).concat(st.Resource).map((value) => resolveValue(s.json, value)),
      condition: st.Condition as Statement['condition'],
    }));
}

/** A document's name as the functions get it (its Ref, resolved like the rest of the template). */
function documentName(s: Synthesized, which: 'run' | 'build'): string {
  const document = s.stack.vqeBatch?.documents?.[which];
  if (!document) throw new Error(`no ${which} document`);
  return resolveValue(s.json, { Ref: s.stack.getLogicalId(document) });
}

const documentArn = (s: Synthesized, which: 'run' | 'build') =>
  `arn:aws:ssm:us-east-1:000000000000:document/${documentName(s, which)}`;

interface DocumentContent {
  readonly schemaVersion: string;
  readonly parameters: Record<string, { allowedPattern?: string; allowedValues?: string[]; default?: string }>;
  readonly mainSteps: Array<{ action: string; inputs: { runCommand: string[] } }>;
}

function documentsOf(s: Synthesized): DocumentContent[] {
  return Object.values(s.template.findResources('AWS::SSM::Document')).map((resource) => {
    expect(resource.Properties).toMatchObject({ DocumentType: 'Command', DocumentFormat: 'JSON' });
    return resource.Properties.Content as DocumentContent;
  });
}

const sendCommands = (s: Synthesized, fn: BatchFunction) =>
  statementsOf(s, fn).filter((st) => st.actions.includes('ssm:SendCommand'));

function machinesOf(s: Synthesized) {
  const batch = s.stack.vqeBatch!;
  return {
    parent: resolveDefinition(s.json, logicalId(s, batch.stateMachine)).States as Record<
      string,
      AslState & Record<string, any>
    >,
    chunk: resolveDefinition(s.json, logicalId(s, batch.chunkStateMachine)).States as Record<
      string,
      AslState & Record<string, any>
    >,
  };
}

describe('when the VQE batch is deployed', () => {
  it('names both machines after the stack once a GPU host is configured on AWS', () => {
    // Act
    const s = synth({ stackName: 'GpuLab', batch: { host: HOST } });

    // Assess
    s.template.hasResourceProperties('AWS::StepFunctions::StateMachine', { StateMachineName: 'GpuLab-vqe-batch' });
    s.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineName: 'GpuLab-vqe-batch-chunk',
    });
    // The feature pipeline, the debounce of new objects, table maintenance, plus the two batch machines.
    s.template.resourceCountIs('AWS::StepFunctions::StateMachine', 5);
  });

  it('deploys nothing of the batch on AWS without a host', () => {
    // Act
    const s = synth();

    // Assess
    expect(s.stack.vqeBatch).toBeUndefined();
    expect(s.stack.batchFinishedTrigger).toBeUndefined();
    // The feature pipeline, the debounce of new objects and table maintenance.
    s.template.resourceCountIs('AWS::StepFunctions::StateMachine', 3);
    expect(
      s.template.findResources('AWS::Lambda::Function', {
        Properties: { Environment: { Variables: { BATCH_SETTINGS: Match.anyValue() } } },
      }),
    ).toEqual({});
    expect(
      s.template.findResources('AWS::Events::Rule', {
        Properties: { EventPattern: { source: ['quantum-pipeline.vqe-batch'] } },
      }),
    ).toEqual({});
  });

  it('deploys locally with the local launcher, the local S3 endpoint and mini-VQE writing to the raw bucket', () => {
    // Act
    const s = synth({ profile: 'local', batch: { extraArgs: ['--kafka'] } });
    const settings = settingsOf(s);

    // Assess
    expect(settings).toMatchObject({
      launcher: { kind: 'local' },
      s3Endpoint: 'http://127.0.0.1:3900',
      s3Region: 'garage',
      stateBucket: 'raw-results',
    });
    // The records' output arguments come from the delivery (the launcher adds them per run), not extraArgs.
    expect(settings.extraArgs).toEqual(['--kafka']);
    expect(settings.delivery).toEqual({
      mode: 'host-upload',
      bucket: 'raw-results',
      prefix: 'experiments/experiment.vqe/',
      folderFlag: '--output-dir',
      s3Flag: '--output',
    });
    for (const fn of FUNCTIONS) expect(sendCommands(s, fn)).toEqual([]);
    s.template.resourceCountIs('AWS::SSM::Document', 0);
  });

  it("gives the local cpu lane mini-VQE's molecules file, and leaves the gpu lanes the GPU image's files", () => {
    // Act
    const settings = settingsOf(synth({ profile: 'local' }));

    // Assess: mini-VQE refuses the gpu lanes' --gpu before it reads --file, so only the cpu file must exist locally
    expect(settings.moleculesFiles).toEqual({
      cpu: 'molecules/cpu.json',
      gpu1: 'data/molecules.gpu1.json',
      gpu2: 'data/molecules.gpu2.json',
    });
    expect(existsSync(join(__dirname, '..', '..', 'mini-vqe', settings.moleculesFiles.cpu))).toBe(true);
  });
});

describe('VQE batch state machines', () => {
  it("runs the lanes three at a time and each lane's chunks one at a time through StartExecution.sync:2 of the chunk machine", () => {
    // Act
    const s = synth({ batch: { host: HOST } });
    const { parent } = machinesOf(s);
    const runChunks = parent.RunLanes.ItemProcessor!.States.RunChunks as Record<string, any>;
    const runChunk = runChunks.ItemProcessor.States.RunChunk;

    // Assess
    expect(parent.PlanBatch.Next).toBe('IsDryRun');
    expect(parent.RunLanes).toMatchObject({
      Type: 'Map',
      MaxConcurrency: 3,
      ItemsPath: '$.plan.lanes',
      Next: 'SummarizeBatch',
    });
    expect(runChunks).toMatchObject({ Type: 'Map', MaxConcurrency: 1, ItemsPath: '$.lane.chunks' });
    expect(runChunk.Resource).toBe('arn:aws:states:::states:startExecution.sync:2');
    expect(runChunk.Parameters.StateMachineArn).toBe(
      `arn:aws:states:us-east-1:000000000000:stateMachine:${logicalId(s, s.stack.vqeBatch!.chunkStateMachine)}`,
    );
    expect([
      parent.SummarizeBatch.Next,
      parent.WriteBatchReport.Next,
      parent.PublishBatchFinished.Next,
      parent.BatchReport.Next,
    ]).toEqual(['WriteBatchReport', 'PublishBatchFinished', 'BatchReport', 'BatchSucceeded']);
  });

  it("moves the chunk's cursor with States.MathAdd after a run ends and after a skipped run, and stops skipping past the end", () => {
    // Act
    const { chunk } = machinesOf(synth({ batch: { host: HOST } }));

    // Assess
    for (const name of ['NextRun', 'SkipRun']) {
      expect(chunk[name]).toMatchObject({ Type: 'Pass', Parameters: { 'cursor.$': 'States.MathAdd($.cursor, 1)' } });
    }
    expect(chunk.NextRun.Next).toBe('StartRun');
    expect(chunk.StartRun.Catch).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'SkipRun' }]);
    expect(chunk.HasRunEnded.Default).toBe('WaitForRun');
    // At the end StartRun still reports the tally; a skip beyond it would loop for ever, so the chunk fails.
    expect(chunk.SkipRun.Next).toBe('CanGoOn');
    expect(chunk.CanGoOn).toEqual({
      Type: 'Choice',
      Choices: [{ Variable: '$.cursor', NumericLessThanEqualsPath: '$.end', Next: 'StartRun' }],
      Default: 'ChunkStepsFailed',
    });
    expect(chunk.ChunkStepsFailed).toMatchObject({ Type: 'Fail', Error: 'ChunkStepsFailedError' });
  });

  it('makes a second batch wait for the run slot in PlanBatch, then fail as BatchFailed, and lets the planner list only its own machine', () => {
    // Act
    const s = synth({ stackName: 'GpuLab', batch: { host: HOST } });
    const { parent } = machinesOf(s);

    // Assess
    expect(parent.PlanBatch.Parameters?.Payload).toMatchObject({
      'executionArn.$': '$$.Execution.Id',
      'stateMachineArn.$': '$$.StateMachine.Id',
    });
    expect(parent.PlanBatch.Retry).toContainEqual({
      ErrorEquals: ['PipelineBusyError'],
      IntervalSeconds: 300,
      BackoffRate: 1.5,
      MaxAttempts: 12,
    });
    expect(parent.PlanBatch.Catch).toEqual([
      { ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'IsBatchPlanned' },
    ]);
    expect(parent.IsBatchPlanned.Default).toBe('BatchFailed');
    expect(statementsOf(s, 'plan').filter((st) => st.actions.includes('states:ListExecutions'))).toEqual([
      {
        actions: ['states:ListExecutions'],
        resources: ['arn:aws:states:us-east-1:000000000000:stateMachine:GpuLab-vqe-batch'],
        condition: undefined,
      },
    ]);
  });

  it('retries StartRun when the launcher is unavailable, never on invalid input, and matches that before States.ALL', () => {
    // Act
    const { chunk } = machinesOf(synth({ batch: { host: HOST } }));
    const retry = chunk.StartRun.Retry as Array<{ ErrorEquals: string[]; MaxAttempts?: number }>;
    const at = (error: string) => retry.findIndex((r) => r.ErrorEquals.includes(error));

    // Assess
    expect(retry[at('LauncherUnavailableError')]).toEqual({
      ErrorEquals: ['LauncherUnavailableError'],
      IntervalSeconds: 30,
      BackoffRate: 2,
      MaxAttempts: 5,
    });
    expect(retry[at('InvalidInputError')]).toEqual({ ErrorEquals: ['InvalidInputError'], MaxAttempts: 0 });
    // Step Functions takes the first matching retrier: States.ALL ahead would retry bad input.
    expect(at('InvalidInputError')).toBeLessThan(at('States.ALL'));
  });
});

describe('VQE batch settings (BATCH_SETTINGS)', () => {
  it('deploys the SSM launcher, a command timeout 600 s above the run timeout and 19 runs per chunk for the defaults', () => {
    // Act
    const s = synth({ batch: { host: HOST } });
    const settings = settingsOf(s);

    // Assess: 121 polls of 10 events plus 9 per run make 1,219 events; 19 runs fit 24,000
    expect(settings).toMatchObject({
      launcher: {
        kind: 'ssm',
        target: HOST,
        image: 'quantum-pipeline-simulation:latest-gpu',
        documents: { run: documentName(s, 'run') },
        laneDevices: { gpu1: 'device=0', gpu2: 'device=1' },
        commandTimeoutSeconds: 7200 + 600,
      },
      runTimeoutSeconds: 7200,
      pollIntervalSeconds: 60,
      chunkSize: 19,
      statePrefix: 'vqe-batch/',
    });
    expect(settings.launcher.kind === 'ssm' && settings.launcher.build).toBeUndefined();
    for (const fn of FUNCTIONS) expect(settingsOf(s, fn)).toEqual(settings);
  });

  it('follows a shorter run timeout and carries the build section with CUDA arch 6.1 when the build is enabled', () => {
    // Act
    const settings = settingsOf(
      synth({ batch: { host: HOST, runTimeoutMinutes: 30, build: { enabled: true, contextDir: '/srv/qp' } } }),
    );

    // Assess
    expect(settings.launcher).toMatchObject({
      commandTimeoutSeconds: 30 * 60 + 600,
      build: { contextDir: '/srv/qp', cudaArch: '6.1' },
    });
    expect(settings.runTimeoutSeconds).toBe(1800);
  });

  it('pins each GPU lane to the configured devices and names the build document when the build is enabled', () => {
    // Act
    const s = synth({
      batch: {
        host: HOST,
        laneDevices: { gpu1: 'device=0,1', gpu2: 'all' },
        build: { enabled: true, contextDir: '/srv/qp' },
      },
    });

    // Assess
    expect(settingsOf(s).launcher).toMatchObject({
      laneDevices: { gpu1: 'device=0,1', gpu2: 'all' },
      documents: { run: documentName(s, 'run'), build: documentName(s, 'build') },
    });
  });
});

describe('VQE batch SSM documents', () => {
  it('deploys one Command document (schema 2.2) whose image parameter takes only the configured repository, with the options fixed in it', () => {
    // Act
    // Delivery direct: the document as it is without the host-upload lines (vqe-batch-delivery.test.ts).
    const s = synth({
      batch: {
        host: HOST,
        dockerRunOptions: ['--shm-size=8g', '-e', 'KAFKA_SERVERS=kafka:9092'],
        delivery: { mode: 'direct' },
      },
    });
    const [run, ...others] = documentsOf(s);

    // Assess
    expect(others).toEqual([]);
    expect(run.schemaVersion).toBe('2.2');
    expect(Object.keys(run.parameters).sort()).toEqual([
      'action',
      'args',
      'containerName',
      'executionTimeout',
      'gpus',
      'image',
    ]);
    expect(run.parameters.action.allowedValues).toEqual(['run', 'stop']);
    const image = new RegExp(run.parameters.image.allowedPattern ?? '');
    expect(image.test('quantum-pipeline-simulation:latest-gpu')).toBe(true);
    expect(image.test(`quantum-pipeline-simulation@sha256:${'a'.repeat(64)}`)).toBe(true);
    expect(image.test('evil.example/miner:latest')).toBe(false);
    expect(image.test('quantum-pipeline-simulation:latest-gpu --privileged')).toBe(false);
    expect(new RegExp(run.parameters.gpus.allowedPattern ?? '').test('all;reboot')).toBe(false);
    expect(run.mainSteps[0].inputs.runCommand.at(-1)).toContain(
      "--shm-size=8g -e KAFKA_SERVERS=kafka:9092 '{{ image }}' {{ args }}",
    );
  });

  it('adds the build document, with the build folder fixed in it, when the build is enabled', () => {
    // Act
    const s = synth({
      batch: { host: HOST, build: { enabled: true, contextDir: '/srv/qp', dockerfile: 'Dockerfile.gpu' } },
    });
    const build = documentsOf(s).find((content) => 'cudaArch' in content.parameters);

    // Assess
    expect(documentsOf(s)).toHaveLength(2);
    expect(Object.keys(build?.parameters ?? {}).sort()).toEqual(['cudaArch', 'executionTimeout', 'image']);
    expect(build?.mainSteps[0].inputs.runCommand).toEqual([
      "exec docker build --build-arg 'CUDA_ARCH={{ cudaArch }}' -t '{{ image }}' -f Dockerfile.gpu /srv/qp",
    ]);
  });
});

describe('VQE batch permissions', () => {
  it('lets the run steps send the run document to the one EC2 instance only, and nothing AWS-RunShellScript', () => {
    // Act
    const s = synth({ batch: { host: HOST } });

    // Assess
    for (const fn of ['start-run', 'check-run'] as const) {
      expect(
        sendCommands(s, fn)
          .flatMap((st) => st.resources)
          .sort(),
      ).toEqual([`arn:aws:ec2:us-east-1:000000000000:instance/${INSTANCE}`, documentArn(s, 'run')].sort());
      expect(statementsOf(s, fn).some((st) => st.actions.includes('ssm:DescribeInstanceInformation'))).toBe(false);
    }
    // Without a build document the image build may send nothing.
    for (const fn of ['plan', 'summary', 'image-build'] as const) expect(sendCommands(s, fn)).toEqual([]);
    expect(JSON.stringify(s.json)).not.toContain('AWS-RunShellScript');
  });

  it('lets only the image build send the build document', () => {
    // Act
    const s = synth({ batch: { host: HOST, build: { enabled: true, contextDir: '/srv/qp' } } });

    // Assess
    expect(
      sendCommands(s, 'image-build')
        .flatMap((st) => st.resources)
        .sort(),
    ).toEqual([`arn:aws:ec2:us-east-1:000000000000:instance/${INSTANCE}`, documentArn(s, 'build')].sort());
    for (const fn of ['start-run', 'check-run'] as const) {
      expect(sendCommands(s, fn).flatMap((st) => st.resources)).not.toContain(documentArn(s, 'build'));
    }
  });

  it('names an on-premises host by its managed-instance ARN', () => {
    // Act
    const s = synth({ batch: { host: { instanceId: 'mi-0123456789abcdef0' } } });

    // Assess
    expect(sendCommands(s, 'start-run').flatMap((st) => st.resources)).toContain(
      'arn:aws:ssm:us-east-1:000000000000:managed-instance/mi-0123456789abcdef0',
    );
    expect(
      sendCommands(s, 'start-run')
        .flatMap((st) => st.resources)
        .some((arn) => arn.includes(':ec2:')),
    ).toBe(false);
  });

  it('limits a tag target with the ssm:resourceTag condition and may look the hosts up', () => {
    // Act
    const s = synth({ batch: { host: { tag: { key: 'role', value: 'vqe-gpu' } } } });
    const statements = sendCommands(s, 'check-run');
    const tagged = statements.filter((st) => st.condition);

    // Assess
    expect(tagged).toEqual([
      {
        actions: ['ssm:SendCommand'],
        resources: [
          'arn:aws:ec2:us-east-1:000000000000:instance/*',
          'arn:aws:ssm:us-east-1:000000000000:managed-instance/*',
        ],
        condition: { StringEquals: { 'ssm:resourceTag/role': 'vqe-gpu' } },
      },
    ]);
    // Without the condition, only the document: no wildcard host is reachable unconditionally.
    expect(statements.filter((st) => !st.condition).flatMap((st) => st.resources)).toEqual([documentArn(s, 'run')]);
    // The launching step looks the tagged hosts up; check-run polls by the handle's instance id.
    expect(statementsOf(s, 'start-run')).toContainEqual({
      actions: ['ssm:DescribeInstanceInformation'],
      resources: ['*'],
      condition: undefined,
    });
  });

  it('lets only check-run write done markers, and the summary write nothing', () => {
    // Act
    const s = synth({ batch: { host: HOST } });
    const writesTo = (fn: BatchFunction, suffix: string) =>
      statementsOf(s, fn).some(
        (st) => st.actions.includes('s3:PutObject') && st.resources.some((arn) => arn.endsWith(suffix)),
      );

    // Assess
    expect(FUNCTIONS.filter((fn) => writesTo(fn, '/vqe-batch/done/*'))).toEqual(['check-run']);
    expect(FUNCTIONS.filter((fn) => writesTo(fn, '/vqe-batch/runs/*'))).toEqual(['start-run', 'check-run']);
    expect(FUNCTIONS.filter((fn) => writesTo(fn, '/vqe-batch/batches/*'))).toEqual(['plan']);
    expect(statementsOf(s, 'summary').flatMap((st) => st.actions)).not.toContain('s3:PutObject');
  });
});

describe('"VQE Batch Finished" trigger', () => {
  it('starts the feature pipeline with {"trigger":"vqe-batch"} when a batch produced records', () => {
    // Act
    const s = synth({ batch: { host: HOST } });

    // Assess
    s.template.hasResourceProperties('AWS::Events::Rule', {
      State: 'ENABLED',
      EventPattern: {
        source: ['quantum-pipeline.vqe-batch'],
        'detail-type': ['VQE Batch Finished'],
        detail: { producedRecords: [true] },
      },
      Targets: [
        Match.objectLike({
          Input: '{"trigger":"vqe-batch"}',
          Arn: { Ref: logicalId(s, s.stack.pipeline.stateMachine) },
        }),
      ],
    });
  });

  it('is deployed disabled when batch.startFeaturePipeline is false', () => {
    // Act
    const s = synth({ batch: { host: HOST, startFeaturePipeline: false } });

    // Assess
    s.template.hasResourceProperties('AWS::Events::Rule', {
      State: 'DISABLED',
      EventPattern: Match.objectLike({ source: ['quantum-pipeline.vqe-batch'] }),
    });
    expect(
      s.template.findResources('AWS::Events::Rule', {
        Properties: { State: 'ENABLED', EventPattern: Match.objectLike({ source: ['quantum-pipeline.vqe-batch'] }) },
      }),
    ).toEqual({});
  });
});

describe('cdk-nag with the VQE batch', () => {
  it.each([
    ['an instance id', { host: HOST }],
    ['a tag target', { host: { tag: { key: 'role', value: 'vqe-gpu' } } }],
    ['the image build enabled', { host: HOST, build: { enabled: true, contextDir: '/srv/qp' } }],
  ])('finds nothing unacknowledged with %s', (_name, batch) => {
    // Prepare
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    buildApp(app, loadConfig({ batch }), fakeSparkArtifacts(), { nag: true });

    // Act + Assess: an unacknowledged finding fails the synth
    expect(() => app.synth()).not.toThrow();
  });
});

describe('VQE batch validation', () => {
  function construct(overrides: Partial<VqeBatchProps>): () => VqeBatch {
    return () => {
      // No bundling: these tests only read what the constructor validates.
      const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
      return new VqeBatch(stack, 'Batch', {
        stateMachineName: 'test-vqe-batch',
        stateBucket: new s3.Bucket(stack, 'State'),
        launcher: { kind: 'local' },
        moleculesFiles: { gpu1: 'gpu1.json', gpu2: 'gpu2.json', cpu: 'cpu.json' },
        ...overrides,
      });
    };
  }

  it.each([
    [
      { stateMachineName: 'bad name' },
      'VqeBatch: stateMachineName must be 1-74 letters, digits, - or _ (the chunk machine adds -chunk), got "bad name"',
    ],
    [{ stateMachineName: 'x'.repeat(75) }, `got "${'x'.repeat(75)}"`],
    [
      { runTimeout: Duration.minutes(10), pollInterval: Duration.minutes(11) },
      'VqeBatch: pollInterval must be from 1 s up to runTimeout (600 s), got 660 s',
    ],
    // 121 polls of 10 events plus 9 per run: 1,219 events, so 19 runs fit 24,000.
    [
      { chunkSize: 20 },
      'VqeBatch: chunkSize must be a whole number from 1 to 19 (a run may poll up to 1219 history events; a chunk must stay under 24000), got 20',
    ],
    [{ chunkSize: 2.5 }, /chunkSize must be a whole number from 1 to 19 .*got 2\.5$/],
    // One poll a second for two hours: 7,200 polls, more than a whole chunk's history.
    [
      { pollInterval: Duration.seconds(1) },
      "VqeBatch: runTimeout (7200 s) / pollInterval (1 s) allows 7200 polls per run, more than one chunk's history holds; poll less often",
    ],
    [
      { statePrefix: '/vqe' },
      'VqeBatch: invalid settings: statePrefix: expected a key prefix ending in / (or empty), got "/vqe"',
    ],
    [
      { moleculesFiles: { gpu1: 'gpu1.json', gpu2: 'gpu2.json' } },
      'VqeBatch: invalid settings: moleculesFiles.cpu: Invalid input: expected string, received undefined, got nothing',
    ],
    [
      { moleculesFiles: { gpu1: 'gpu1.json', gpu2: '', cpu: 'cpu.json' } },
      /^VqeBatch: invalid settings: moleculesFiles\.gpu2: .*got ""$/,
    ],
  ])('refuses %j, naming the prop and the value', (overrides, message) => {
    // Prepare + Act + Assess: the constructor throws before anything is synthesized
    expect(construct(overrides as Partial<VqeBatchProps>)).toThrow(message);
  });

  it('accepts the largest chunk that fits, and more runs per chunk with fewer polls', () => {
    // Act + Assess
    expect(construct({ chunkSize: 19 })().settings.chunkSize).toBe(19);
    // 10 minutes at 60 s: 9 + 11 x 10 = 119 events per run; the default is capped at 100.
    expect(construct({ runTimeout: Duration.minutes(10) })().settings.chunkSize).toBe(100);
  });

  it.each([
    [
      { batch: { enabled: true } },
      'invalid configuration: batch.host: required when batch.enabled is true on the aws profile',
    ],
    [
      { batch: { host: HOST, build: { cudaArch: 'sm61' } } },
      'batch.build.cudaArch: expected a CUDA compute capability such as 6.1, got "sm61"',
    ],
    [
      { batch: { host: HOST, build: { enabled: true } } },
      'invalid configuration: batch.build.contextDir: required when batch.build.enabled is true (the folder on the GPU host that docker build reads), got nothing',
    ],
    [
      { batch: { host: { instanceId: 'host-1' } } },
      'batch.host.instanceId: expected an instance id i-... or a managed node id mi-..., got "host-1"',
    ],
    [
      { batch: { host: HOST, image: '--privileged' } },
      'batch.image: expected an image reference [registry[:port]/]repository[:tag][@sha256:digest] (no leading -), got "--privileged"',
    ],
    [
      { batch: { host: HOST, dockerRunOptions: ['--shm-size=8g', '--privileged'] } },
      'invalid configuration: batch.dockerRunOptions[1]: not an allowed docker run option',
    ],
    [
      { batch: { host: HOST, dockerRunOptions: ['--cap-add', 'SYS_ADMIN'] } },
      'batch.dockerRunOptions[0]: not an allowed docker run option (allowed: --shm-size, ',
    ],
    [{ batch: { host: HOST, dockerRunOptions: ['--device=/dev/sda'] } }, 'got "--device=/dev/sda"'],
    [
      { batch: { host: HOST, dockerRunOptions: ['-v', '/:/host'] } },
      'batch.dockerRunOptions[0]: -v: mounts the host\'s root folder, got "-v /:/host"',
    ],
    [
      { batch: { host: HOST, dockerRunOptions: ['--pid=host'] } },
      'batch.dockerRunOptions[0]: not an allowed docker run option',
    ],
    [
      { batch: { host: HOST, dockerRunOptions: ['-e', 'GITHUB_TOKEN=ghp_abc'] } },
      'batch.dockerRunOptions[0]: -e: GITHUB_TOKEN looks like a secret and must not be inline: use --env-file with a file on the host, or -e GITHUB_TOKEN without a value, got "-e GITHUB_TOKEN=***"',
    ],
    [
      { batch: { host: HOST, extraArgs: ['--kafka', '--kafka-password', 'hunter2'] } },
      'batch.extraArgs[2]: the value of --kafka-password looks like a secret and must not be inline, got "***"',
    ],
    [
      { batch: { host: HOST, extraArgs: ['--label', 'a;reboot'] } },
      'batch.extraArgs[1]: expected a --flag or a value of letters, digits and _.,:/+=@- (no spaces, quotes or shell characters), got "a;reboot"',
    ],
    [
      { batch: { host: HOST, laneDevices: { gpu1: 'all; reboot' } } },
      'batch.laneDevices.gpu1: expected all or device=N[,M], got "all; reboot"',
    ],
    [{ batch: { host: HOST, laneDevices: { cpu: 'device=2' } } }, 'batch.laneDevices: unknown field "cpu"'],
  ])('refuses the config %j, naming the field and the value', (context, message) => {
    // Act + Assess
    expect(() => loadConfig(context)).toThrow(ConfigError);
    expect(() => loadConfig(context)).toThrow(message);
  });

  it('never echoes an inline secret in the error', () => {
    // Act
    const loading = () =>
      loadConfig({ batch: { host: HOST, dockerRunOptions: ['--env=AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI'] } });

    // Assess
    expect(loading).toThrow('AWS_SECRET_ACCESS_KEY=***');
    expect(loading).not.toThrow('wJalrXUtnFEMI');
  });

  it.each([
    [
      { image: '--privileged' },
      'VqeBatch: launcher.image: expected an image reference [registry[:port]/]repository[:tag][@sha256:digest] (lower-case path, no leading -), got "--privileged"',
    ],
    [
      { dockerRunOptions: ['--privileged'] },
      'VqeBatch: launcher.dockerRunOptions[0]: not an allowed docker run option',
    ],
    [
      { laneDevices: { gpu2: 'device=a' } },
      'VqeBatch: launcher.laneDevices.gpu2: expected all or device=N[,M], got "device=a"',
    ],
    [
      { build: { contextDir: "/srv/qp'; reboot; '", cudaArch: '6.1' } },
      'VqeBatch: launcher.build.contextDir: expected a path',
    ],
  ])('refuses the SSM launcher %j, naming the prop and the value', (launcher, message) => {
    // Prepare
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
    const make = () =>
      new VqeBatch(stack, 'Batch', {
        stateMachineName: 'test-vqe-batch',
        stateBucket: new s3.Bucket(stack, 'State'),
        launcher: { kind: 'ssm', target: HOST, image: 'qp/vqe:1', ...launcher },
        moleculesFiles: { gpu1: 'gpu1.json', gpu2: 'gpu2.json', cpu: 'cpu.json' },
      });

    // Act + Assess
    expect(make).toThrow(message);
  });

  it('refuses inline secrets and shell characters in extraArgs and molecules files of the construct', () => {
    // Prepare
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'Test');
    const make = () =>
      new VqeBatch(stack, 'Batch', {
        stateMachineName: 'test-vqe-batch',
        stateBucket: new s3.Bucket(stack, 'State'),
        launcher: { kind: 'ssm', target: HOST, image: 'qp/vqe:1' },
        moleculesFiles: { gpu1: 'gpu1.json', gpu2: 'gpu 2.json', cpu: 'cpu.json' },
        extraArgs: ['--token=abc123'],
      });

    // Act + Assess
    expect(make).toThrow(
      'VqeBatch: extraArgs[0]: token looks like a secret and must not be inline, got "--token=***"; moleculesFiles.gpu2: expected a path',
    );
  });

  it('needs no host on the local profile, and can be switched off on AWS despite a host', () => {
    // Act
    const local = loadConfig({ profile: 'local', batch: { enabled: true } });
    const off = loadConfig({ batch: { host: HOST, enabled: false } });

    // Assess
    expect(batchEnabled(local)).toBe(true);
    expect(batchEnabled(off)).toBe(false);
  });
});
