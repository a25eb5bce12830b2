/** The VQE batch planner (SPEC section 5): tier sizes, unique keys, phase order, resume, input validation. */
import { describe, expect, it } from 'vitest';
import { describeIssues } from '../../lambdas/core/validation';
import { BatchInput, LANES, planBatch, runArguments, tierRuns } from '../../lambdas/vqe-batch/plan';

const count = (tier: 1 | 2 | 3 | 4) => Object.values(tierRuns(tier)).reduce((sum, runs) => sum + runs.length, 0);

describe('tierRuns', () => {
  it.each([
    [1, 3200],
    [2, 1200],
    [3, 1440],
    [4, 180],
  ] as const)('tier %i has %i runs', (tier, runs) => {
    expect(count(tier)).toBe(runs);
  });

  it('gives every run of all four tiers its own key, the basis included', () => {
    const keys = ([1, 2, 3, 4] as const).flatMap((tier) =>
      Object.values(tierRuns(tier))
        .flat()
        .map((run) => run.key),
    );

    expect(new Set(keys).size).toBe(keys.length);
    expect(tierRuns(2).cpu[0].key).toBe('cpu/6-31g/H2/L-BFGS-B/EfficientSU2/random/seed-1');
    expect(tierRuns(1).cpu[0].key).toBe('cpu/sto3g/H2/L-BFGS-B/EfficientSU2/random/seed-1');
  });

  it("puts each lane's molecules in it, and runs the optimizer phases in order", () => {
    const runs = tierRuns(1);
    expect([...new Set(runs.gpu1.map((r) => r.molecule))]).toEqual(['NH3', 'CO2']);
    expect([...new Set(runs.gpu2.map((r) => r.molecule))]).toEqual(['LiH', 'BeH2', 'N2', 'H2O']);
    expect([...new Set(runs.cpu.map((r) => r.molecule))]).toEqual(['H2', 'HeH+']);
    expect([...new Set(runs.cpu.map((r) => r.optimizer))]).toEqual([
      'L-BFGS-B',
      'COBYLA',
      'SLSQP',
      'Nelder-Mead',
      'Powell',
      'BFGS',
      'CG',
      'TNC',
    ]);
    expect(runs.cpu.find((r) => r.molecule === 'HeH+')?.moleculeIndex).toBe(1);
  });

  it("uses tier 3's two ansatze and short optimizer list, and tier 4's basis and molecules", () => {
    const three = Object.values(tierRuns(3)).flat();
    expect([...new Set(three.map((r) => r.ansatz))]).toEqual(['RealAmplitudes', 'ExcitationPreserving']);
    expect([...new Set(three.map((r) => r.optimizer))]).toEqual(['L-BFGS-B', 'COBYLA', 'Nelder-Mead']);
    const four = Object.values(tierRuns(4)).flat();
    expect([...new Set(four.map((r) => `${r.basis} ${r.molecule}`))]).toEqual([
      'cc-pvdz LiH',
      'cc-pvdz H2',
      'cc-pvdz HeH+',
    ]);
    expect(Math.max(...four.map((r) => r.seed))).toBe(10);
  });
});

describe('planBatch', () => {
  it('leaves out the runs already done, so a re-trigger resumes', () => {
    const first = planBatch(BatchInput.parse({ tier: 1, lanes: ['cpu'] }), new Set());
    const done = new Set(first.lanes.cpu!.slice(0, 150).map((run) => run.key));

    const resumed = planBatch(BatchInput.parse({ tier: 1, lanes: ['cpu'] }), done);

    expect(first).toMatchObject({ total: 800, alreadyDone: 0, toRun: 800 }); // 2 molecules x 8 optimizers x 2 starts x 25 seeds
    expect(resumed).toMatchObject({ total: 800, alreadyDone: 150, toRun: 650 });
    expect(resumed.lanes.cpu![0].key).toBe(first.lanes.cpu![150].key);
  });

  it('deals at most `limit` runs to the lanes in turn; a lane that runs out leaves the rest to the others', () => {
    const plan = planBatch(BatchInput.parse({ tier: 4, limit: 70 }), new Set());

    expect(Object.keys(plan.lanes)).toEqual(['gpu2', 'cpu']); // tier 4 has no gpu1 molecule
    expect(plan.lanes.gpu2).toHaveLength(35);
    expect(plan.lanes.cpu).toHaveLength(35);
    expect(plan.toRun).toBe(70);
    const uneven = planBatch(BatchInput.parse({ tier: 4, lanes: ['cpu', 'gpu2'], limit: 150 }), new Set());
    expect(uneven.lanes.gpu2).toHaveLength(60); // all of tier 4's gpu2 runs (LiH only)
    expect(uneven.lanes.cpu).toHaveLength(90);
  });

  it('takes only the selected lanes, in the order given, with the first runs of each', () => {
    const plan = planBatch(BatchInput.parse({ tier: 1, lanes: ['cpu', 'gpu1'], limit: 3 }), new Set());

    expect(Object.keys(plan.lanes)).toEqual(['cpu', 'gpu1']);
    expect(plan.lanes.cpu!.map((run) => run.key)).toEqual(
      tierRuns(1)
        .cpu.slice(0, 2)
        .map((run) => run.key),
    );
    expect(plan.lanes.gpu1!.map((run) => run.key)).toEqual([tierRuns(1).gpu1[0].key]);
    expect(plan).toMatchObject({ total: 1600, toRun: 3 });
  });

  it('plans nothing when every run is done', () => {
    const all = new Set(
      Object.values(tierRuns(4))
        .flat()
        .map((run) => run.key),
    );

    expect(planBatch(BatchInput.parse({ tier: 4 }), all)).toMatchObject({ toRun: 0, alreadyDone: 180, lanes: {} });
  });
});

describe('BatchInput', () => {
  it('defaults to tier 1, all lanes, no limit, a real run', () => {
    expect(BatchInput.parse({})).toEqual({ tier: 1, dryRun: false });
    expect(LANES).toEqual(['gpu1', 'gpu2', 'cpu']);
  });

  it.each([
    [{ tier: 5 }, /^tier: .*got 5$/],
    [{ lanes: ['gpu3'] }, /^lanes\[0\]: .*got "gpu3"$/],
    [{ limit: 0 }, /^limit: .*got 0$/],
    [{ dryrun: true }, /^unknown field "dryrun"$/],
    [{ lanes: ['cpu', 'cpu'] }, /^lanes: expected each lane once/],
    [{ runTimeoutSeconds: 0 }, /^runTimeoutSeconds: .*got 0$/],
  ])('refuses %j, naming the field and the value', (input, message) => {
    const result = BatchInput.safeParse(input);

    expect(result.success).toBe(false);
    expect(describeIssues(result.error!, input)).toMatch(message);
  });
});

describe('runArguments', () => {
  it('gives the simulation image its SPEC section 5 flags, --gpu on the GPU lanes only', () => {
    const [cpu] = tierRuns(1).cpu;
    const [gpu] = tierRuns(1).gpu1;

    expect(runArguments(cpu, 'molecules/cpu.json')).toEqual([
      '--file',
      'molecules/cpu.json',
      '--molecule-index',
      '0',
      '--basis',
      'sto3g',
      '--optimizer',
      'L-BFGS-B',
      '--init-strategy',
      'random',
      '--seed',
      '1',
      '--ansatz',
      'EfficientSU2',
      '--simulation-method',
      'statevector',
      '--convergence',
      '--threshold',
      '1e-6',
    ]);
    expect(runArguments(gpu, 'molecules/gpu1.json').at(-1)).toBe('--gpu');
  });
});
