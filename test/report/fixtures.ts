/** Views of the run report made by hand: small, explicit, and with hostile text where it matters. */
import type { BatchView, PipelineRunView, ReportData } from '../../lambdas/report/contract';

export const HOSTILE_KEY = 'experiments/experiment.vqe/<script>window.pwned=1</script>.json';

export const REPORT_DATA: ReportData = {
  version: 1,
  run_id: 'run-1',
  batch_id: 'm-1',
  generated_at: '2026-12-02T02:05:00+00:00',
  experiments: 3,
  history: [
    {
      processing_name: 'quantum_feature_processing',
      batch_id: 'b-0',
      at: '2026-12-01T02:00:00',
      total_rows: 900,
      rows: {},
    },
    {
      processing_name: 'quantum_ml_feature_processing',
      batch_id: 'm-0',
      at: '2026-12-01T02:02:00',
      total_rows: 300,
      rows: {},
    },
    {
      processing_name: 'quantum_feature_processing',
      batch_id: 'b-1',
      at: '2026-12-02T02:00:00',
      total_rows: 1000,
      rows: {},
    },
    {
      processing_name: 'quantum_ml_feature_processing',
      batch_id: 'm-1',
      at: '2026-12-02T02:02:00',
      total_rows: 310,
      rows: {},
    },
  ],
  convergence: {
    samples_per_group: 2,
    max_points: 80,
    groups_total: 2,
    groups: [
      {
        molecule: 'H2',
        basis: 'sto3g',
        optimizer: 'COBYLA',
        ansatz: 'RealAmplitudes',
        runs: 2,
        samples: [
          {
            experiment_id: 'aaaa1111',
            init_strategy: 'hf',
            points: [
              [1, -0.9],
              [2, -1.1],
              [3, -1.136],
            ],
          },
          {
            experiment_id: 'bbbb2222',
            init_strategy: 'random',
            points: [
              [1, -0.5],
              [2, -1.0],
            ],
          },
        ],
      },
      {
        molecule: 'H2',
        basis: 'sto3g',
        optimizer: 'SLSQP',
        ansatz: 'RealAmplitudes',
        runs: 1,
        samples: [
          {
            experiment_id: 'cccc3333',
            init_strategy: 'hf',
            points: [
              [1, -1.0],
              [2, -1.137],
            ],
          },
        ],
      },
    ],
  },
  energy_error: {
    chemical_accuracy_hartree: 0.0016,
    groups: [
      {
        molecule: 'H2',
        basis: 'sto3g',
        optimizer: 'COBYLA',
        ansatz: 'RealAmplitudes',
        runs: 2,
        reference_kind: 'exact',
        reference_energy: -1.137,
        best_energy: -1.136,
        best_error: 0.001,
        median_error: 0.07,
        within_chemical_accuracy: 1,
      },
      {
        molecule: 'H2',
        basis: 'sto3g',
        optimizer: 'SLSQP',
        ansatz: 'RealAmplitudes',
        runs: 1,
        reference_kind: 'exact',
        reference_energy: -1.137,
        best_energy: -1.13,
        best_error: 0.007,
        median_error: 0.007,
        within_chemical_accuracy: 0,
      },
    ],
  },
};

export const RUN_VIEW: PipelineRunView = {
  kind: 'pipeline-run',
  runId: 'run-1',
  generatedAt: '2026-12-02T02:06:00.000Z',
  jobs: [
    {
      label: 'job 1 (features)',
      status: 'succeeded',
      durationSeconds: 31.5,
      batchId: 'b-1',
      newRows: { molecules: 3 },
    },
    {
      label: 'job 2 (ML features)',
      status: 'succeeded',
      durationSeconds: 27,
      batchId: 'm-1',
      newRows: { ml_run_summary: 3 },
    },
  ],
  files: {
    listed: 5,
    inBatch: 5,
    ingested: 3,
    quarantined: 2,
    quarantinedFiles: [
      { key: HOSTILE_KEY, reason: 'not JSON: <b>unexpected</b> token' },
      { key: 'experiments/experiment.vqe/000002-1.json', reason: 'missing field vqe_result' },
    ],
    duplicateExperiments: 0,
  },
  history: [
    {
      job: 'job 1 (features)',
      at: '2026-12-01T02:00:00',
      batchId: 'b-0',
      totalRows: 900,
      durationSeconds: 40,
      current: false,
    },
    {
      job: 'job 1 (features)',
      at: '2026-12-02T02:00:00',
      batchId: 'b-1',
      totalRows: 1000,
      durationSeconds: 31.5,
      current: true,
    },
    {
      job: 'job 2 (ML features)',
      at: '2026-12-02T02:02:00',
      batchId: 'm-1',
      totalRows: 310,
      durationSeconds: 27,
      current: true,
    },
  ],
  physics: {
    experiments: 3,
    convergence: REPORT_DATA.convergence.groups,
    groupsTotal: 2,
    energyError: REPORT_DATA.energy_error.groups,
    source: 'job 2 of this run',
  },
};

export const BATCH_VIEW: BatchView = {
  kind: 'batch',
  batchId: '20261202T010000Z-abcd',
  tier: 1,
  startedAt: '2026-12-02T01:00:00.000Z',
  generatedAt: '2026-12-02T01:30:00.000Z',
  finished: true,
  lanes: [
    {
      lane: 'cpu',
      planned: 4,
      done: 3,
      failed: 1,
      timedOut: 0,
      inProgress: 0,
      pending: 0,
      records: 6,
      meanRunSeconds: 20,
      etaSeconds: 0,
    },
  ],
  runs: [
    { key: 'cpu/sto3g/H2/COBYLA/RealAmplitudes/hf/seed-1', lane: 'cpu', status: 'done', seconds: 18 },
    { key: 'cpu/sto3g/H2/SLSQP/RealAmplitudes/hf/seed-1', lane: 'cpu', status: 'done', seconds: 22 },
  ],
  physics: RUN_VIEW.physics,
};
