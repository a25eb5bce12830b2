/**
 * The run matrix of a VQE batch (SPEC section 5): tiers 1-4, lanes gpu1 / gpu2 / cpu, the
 * optimizer phase order, and run keys that include the basis. The planner is pure: it takes the
 * keys already done and leaves them out, so a re-triggered batch resumes where it stopped.
 */
import { z } from 'zod';
import { LANES, type Lane } from './contract';

export { LANES, type Lane };

/** Molecules of each lane, in the order of the lane's molecule file (the index is --molecule-index). */
export const LANE_MOLECULES: Readonly<Record<Lane, readonly string[]>> = {
  gpu1: ['NH3', 'CO2'],
  gpu2: ['LiH', 'BeH2', 'N2', 'H2O'],
  cpu: ['H2', 'HeH+'],
};

/** Optimizers in phase order: phase 1, then phase 2, then phase 3. */
export const OPTIMIZER_PHASES: readonly (readonly string[])[] = [
  ['L-BFGS-B', 'COBYLA', 'SLSQP'],
  ['Nelder-Mead', 'Powell'],
  ['BFGS', 'CG', 'TNC'],
];
const ALL_OPTIMIZERS = OPTIMIZER_PHASES.flat();
const SHORT_LIST = ['L-BFGS-B', 'COBYLA', 'Nelder-Mead'];
const INIT_STRATEGIES = ['random', 'hf'] as const;
const ALL_MOLECULES = LANES.flatMap((lane) => LANE_MOLECULES[lane]);

interface TierSpec {
  readonly basis: string;
  readonly optimizers: readonly string[];
  readonly seeds: number;
  readonly ansatze: readonly string[];
  readonly molecules: readonly string[];
}

export const TIERS: Readonly<Record<1 | 2 | 3 | 4, TierSpec>> = {
  1: { basis: 'sto3g', optimizers: ALL_OPTIMIZERS, seeds: 25, ansatze: ['EfficientSU2'], molecules: ALL_MOLECULES },
  2: {
    basis: '6-31g',
    optimizers: ALL_OPTIMIZERS,
    seeds: 15,
    ansatze: ['EfficientSU2'],
    molecules: ['H2', 'HeH+', 'LiH', 'BeH2', 'H2O'],
  },
  3: {
    basis: 'sto3g',
    optimizers: SHORT_LIST,
    seeds: 15,
    ansatze: ['RealAmplitudes', 'ExcitationPreserving'],
    molecules: ALL_MOLECULES,
  },
  4: {
    basis: 'cc-pvdz',
    optimizers: SHORT_LIST,
    seeds: 10,
    ansatze: ['EfficientSU2'],
    molecules: ['H2', 'HeH+', 'LiH'],
  },
};

/** Console input of the batch state machine (strict: an unknown key is an error). */
export const BatchInput = z
  .object({
    tier: z.number().int().min(1).max(4).default(1),
    /** Only these lanes, in this order; all three when absent. */
    lanes: z
      .array(z.enum(LANES))
      .min(1)
      .refine((lanes) => new Set(lanes).size === lanes.length, 'expected each lane once')
      .optional(),
    /** At most this many runs (of those not done yet), handed to the lanes in turn. */
    limit: z.number().int().positive().optional(),
    /** Plan and report, launch nothing. */
    dryRun: z.boolean().default(false),
    /** This batch's per-run timeout, up to the deployed one. @default the deployed runTimeoutSeconds */
    runTimeoutSeconds: z.number().int().min(1).max(86400).optional(),
    /** Build the simulation image on the GPU host first (SSM launcher). @default the deployed build setting */
    buildImage: z.boolean().optional(),
    /** Free text carried into the logs and the batch record ("console", "schedule", ...). */
    trigger: z.string().min(1).max(64).optional(),
  })
  .strict();
export type BatchInput = z.infer<typeof BatchInput>;

export interface PlannedRun {
  /** Unique across tiers: lane/basis/molecule/optimizer/ansatz/init/seed. */
  readonly key: string;
  readonly lane: Lane;
  readonly molecule: string;
  readonly moleculeIndex: number;
  readonly basis: string;
  readonly optimizer: string;
  readonly initStrategy: (typeof INIT_STRATEGIES)[number];
  readonly seed: number;
  readonly ansatz: string;
}

export function runKey(run: Omit<PlannedRun, 'key'>): string {
  return [run.lane, run.basis, run.molecule, run.optimizer, run.ansatz, run.initStrategy, `seed-${run.seed}`].join('/');
}

/** Every run of a tier, per lane, in execution order (optimizer phases first). */
export function tierRuns(tier: 1 | 2 | 3 | 4): Record<Lane, PlannedRun[]> {
  const spec = TIERS[tier];
  const runs = {} as Record<Lane, PlannedRun[]>;
  for (const lane of LANES) {
    runs[lane] = [];
    for (const phase of OPTIMIZER_PHASES) {
      for (const optimizer of phase.filter((name) => spec.optimizers.includes(name))) {
        LANE_MOLECULES[lane].forEach((molecule, moleculeIndex) => {
          if (!spec.molecules.includes(molecule)) return;
          for (const ansatz of spec.ansatze) {
            for (const initStrategy of INIT_STRATEGIES) {
              for (let seed = 1; seed <= spec.seeds; seed += 1) {
                const run = { lane, molecule, moleculeIndex, basis: spec.basis, optimizer, initStrategy, seed, ansatz };
                runs[lane].push({ key: runKey(run), ...run });
              }
            }
          }
        });
      }
    }
  }
  return runs;
}

export interface BatchPlan {
  readonly tier: number;
  /** Per selected lane, the runs still to do, in order. */
  readonly lanes: Partial<Record<Lane, PlannedRun[]>>;
  readonly total: number;
  readonly alreadyDone: number;
  readonly toRun: number;
}

/** The runs of `input.tier` still to do: selected lanes, done keys left out, at most `limit` (dealt to the lanes in turn). */
export function planBatch(input: BatchInput, done: ReadonlySet<string>): BatchPlan {
  const all = tierRuns(input.tier as 1 | 2 | 3 | 4);
  const selected = input.lanes ?? [...LANES];
  let total = 0;
  let alreadyDone = 0;
  const open = selected.map((lane) => {
    total += all[lane].length;
    const runs = all[lane].filter((run) => !done.has(run.key));
    alreadyDone += all[lane].length - runs.length;
    return { lane, runs };
  });
  // A small trial batch should touch every selected lane, so the limit is dealt out one run per lane in turn.
  const taken = new Map<Lane, number>(selected.map((lane) => [lane, 0]));
  let budget = input.limit ?? Number.POSITIVE_INFINITY;
  while (budget > 0) {
    let dealt = false;
    for (const { lane, runs } of open) {
      const count = taken.get(lane) ?? 0;
      if (budget > 0 && count < runs.length) {
        const step = input.limit === undefined ? runs.length - count : 1;
        taken.set(lane, count + step);
        budget -= step;
        dealt = true;
      }
    }
    if (!dealt) break;
  }
  const lanes: Partial<Record<Lane, PlannedRun[]>> = {};
  for (const { lane, runs } of open) {
    const count = taken.get(lane) ?? 0;
    if (count > 0) lanes[lane] = runs.slice(0, count);
  }
  const toRun = [...taken.values()].reduce((sum, count) => sum + count, 0);
  return { tier: input.tier, lanes, total, alreadyDone, toRun };
}

/** The simulation image's arguments for one run (SPEC section 5). */
export function runArguments(run: PlannedRun, moleculesFile: string): string[] {
  return [
    '--file',
    moleculesFile,
    '--molecule-index',
    String(run.moleculeIndex),
    '--basis',
    run.basis,
    '--optimizer',
    run.optimizer,
    '--init-strategy',
    run.initStrategy,
    '--seed',
    String(run.seed),
    '--ansatz',
    run.ansatz,
    '--simulation-method',
    'statevector',
    '--convergence',
    '--threshold',
    '1e-6',
    ...(run.lane === 'cpu' ? [] : ['--gpu']),
  ];
}
