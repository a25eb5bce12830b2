/** The `reprocess` console input: its validation and the job-1 arguments it becomes. */
import { describe, expect, it } from 'vitest';
import { SubmitJobEvent } from '../../lambdas/feature-pipeline/contract';
import { buildJobSpec } from '../../lambdas/feature-pipeline/job-spec';
import { validateInput } from '../../lambdas/feature-pipeline/steps/validate-input';
import { pipelineSettings } from './fixtures';

const settings = pipelineSettings;

describe('validate-input: reprocess', () => {
  const refusal = (message: string | RegExp) =>
    expect.objectContaining({
      name: 'InvalidInputError',
      message: typeof message === 'string' ? expect.stringContaining(message) : expect.stringMatching(message),
    });

  it.each([
    { reprocess: {} },
    { reprocess: { prefix: '' } },
    { reprocess: { prefix: 'experiments/experiment.vqe/' } },
    { reprocess: { prefix: 'p'.repeat(1024) } },
    { reprocess: { prefix: 'experiments/café 日本/' } },
    { reprocess: { since: '2026-11-30' } },
    { reprocess: { since: '2026-11-30T00:00:00Z' } },
    { reprocess: { since: '2026-11-30T09:00:00+02:00' } },
    { reprocess: { since: '2026-11-30T09:00:00.250-05:30' } },
    { reprocess: { prefix: 'experiments/experiment.vqe/', since: '2024-02-29' } },
    { reprocess: {}, skipMlFeatures: true },
    { reprocess: {}, fullRefresh: true, mlParams: { rollingWindow: 7 } },
    { reprocess: {}, mlOnly: false },
  ])('accepts %j and keeps it as given', (input) => {
    const run = validateInput({ input, executionName: 'exec-1' });

    expect(run.options).toEqual(input);
    expect(run.mlOnly).toBe(false);
  });

  // Each line: `<field>: <rule>, got <value>`.
  it.each([
    [
      { prefix: '/experiments/' },
      /reprocess\.prefix: expected a key prefix without a leading "\/".*, got "\/experiments\/"/,
    ],
    [{ prefix: 'p'.repeat(1025) }, /reprocess\.prefix: expected at most 1024 characters, got "p{50}/],
    [{ prefix: '-experiments/' }, /reprocess\.prefix: expected a key prefix that does not start with "-", got "-exp/],
    [{ prefix: 'experiments/\n' }, /reprocess\.prefix: expected no control characters.*, got "experiments\/\\n"/],
    [{ prefix: 'a\u0000b' }, /reprocess\.prefix: expected no control characters.*, got "a\\u0000b"/],
    [{ prefix: 'experiments/a\u00a0b/' }, /reprocess\.prefix: expected no control characters or invisible spaces/],
    [{ prefix: 'experiments/\u200b' }, /reprocess\.prefix: expected no control characters or invisible spaces/],
    [{ prefix: '   ' }, /reprocess\.prefix: expected a key prefix, not only spaces, got " {3}"/],
    [{ prefix: 42 }, /reprocess\.prefix: expected a text .*, got 42/],
    [
      { since: 'yesterday' },
      /reprocess\.since: expected a date \(2026-11-30, midnight UTC\) .*zone.*, got "yesterday"/,
    ],
    [{ since: '2026-11-30T09:00:00' }, /reprocess\.since: expected a date .*, got "2026-11-30T09:00:00"/],
    [{ since: '2026-02-30' }, /reprocess\.since: expected a date .*, got "2026-02-30"/],
    [{ since: '2026-11-30T25:00:00Z' }, /reprocess\.since: expected a date .*, got "2026-11-30T25:00:00Z"/],
    [{ since: 1764460800 }, /reprocess\.since: expected a date .*, got 1764460800/],
    [{ prefx: 'experiments/' }, /reprocess: unknown field "prefx" \(did you mean "prefix"\?\)/],
    [{ until: '2026-12-01' }, /reprocess: unknown field "until"/],
  ])('refuses reprocess %j, naming the field and the value', (reprocess, message) => {
    expect(() => validateInput({ input: { reprocess }, executionName: 'exec-1' })).toThrow(refusal(message));
  });

  it.each([true, null, 'experiments/', [], 5])('refuses reprocess: %j, which is not an object', (reprocess) => {
    expect(() => validateInput({ input: { reprocess }, executionName: 'exec-1' })).toThrow(
      refusal(
        `reprocess: expected an object such as {"prefix": "experiments/experiment.vqe/", "since": "2026-11-30"} ({} for every raw file), got ${JSON.stringify(reprocess)}`,
      ),
    );
  });

  it('names every bad field of reprocess in one message, and a misspelt reprocess', () => {
    expect(() =>
      validateInput({ input: { reprocess: { prefix: '/x', since: 'soon' } }, executionName: 'exec-1' }),
    ).toThrow(refusal(/reprocess\.prefix: .*got "\/x"; reprocess\.since: .*got "soon"/));
    expect(() => validateInput({ input: { reprocesss: {} }, executionName: 'exec-1' })).toThrow(
      refusal('unknown field "reprocesss" (did you mean "reprocess"?)'),
    );
  });

  it.each([
    [{ reprocess: {}, mlOnly: true }, /reprocess re-ingests raw files in job 1, which mlOnly: true skips/],
    [
      { reprocess: { since: '2026-11-30' }, maxFiles: 50 },
      /maxFiles: 50 bounds job 1's batch, reprocess re-ingests its files in one batch/,
    ],
  ])('refuses %j, naming both options', (input, message) => {
    expect(() => validateInput({ input, executionName: 'exec-1' })).toThrow(refusal(message));
  });
});

describe('buildJobSpec: reprocess', () => {
  const args = (reprocess: object | undefined, kind: 'features' | 'ml-features' = 'features') =>
    buildJobSpec(kind, { runId: 'exec-1', options: { reprocess }, skipMlFeatures: false }, settings, 'tok')
      .entryPointArguments;
  const job1Common = (
    '--run-id exec-1 --catalog quantum_catalog --namespace quantum_features ' +
    '--summary-uri s3a://features/pipeline-runs --raw-uri s3a://raw-results/experiments'
  ).split(' ');

  it.each([
    [{}, ['--reprocess']],
    [{ prefix: '' }, ['--reprocess']],
    [{ prefix: 'experiments/experiment.vqe/' }, ['--reprocess', '--reprocess-prefix', 'experiments/experiment.vqe/']],
    [{ since: '2026-11-30' }, ['--reprocess', '--reprocess-since', '2026-11-30']],
    [
      { prefix: 'experiments/a b/', since: '2026-11-30T09:00:00+02:00' },
      ['--reprocess', '--reprocess-prefix', 'experiments/a b/', '--reprocess-since', '2026-11-30T09:00:00+02:00'],
    ],
  ])('gives job 1 reprocess %j as %j', (reprocess, expected) => {
    expect(args(reprocess)).toEqual([...job1Common, ...expected]);
  });

  it('gives job 1 no reprocess argument without the option, and job 2 none either way', () => {
    expect(args(undefined)).toEqual(job1Common);
    expect(args(undefined, 'ml-features')).toEqual(
      args({ prefix: 'experiments/', since: '2026-11-30' }, 'ml-features'),
    );
    expect(args({}, 'ml-features').some((arg) => arg.startsWith('--reprocess'))).toBe(false);
  });

  it("passes what validate-input accepted through the state machine's JSON and submit-job's contract unchanged", () => {
    const run = validateInput({
      input: { reprocess: { prefix: 'experiments/experiment.vqe/', since: '2026-11-30T00:00:00Z' }, fullRefresh: true },
      executionName: 'exec-2',
    });
    const submitted = SubmitJobEvent.parse(JSON.parse(JSON.stringify({ kind: 'features', run, clientToken: 'tok' })));

    expect(buildJobSpec('features', submitted.run, settings, 'tok').entryPointArguments.slice(-5)).toEqual([
      '--reprocess',
      '--reprocess-prefix',
      'experiments/experiment.vqe/',
      '--reprocess-since',
      '2026-11-30T00:00:00Z',
    ]);
  });
});
