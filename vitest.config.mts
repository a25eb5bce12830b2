import { configDefaults, defineConfig } from 'vitest/config';

// One run for every TypeScript test. The end-to-end suites drive real Spark jobs, so their
// own per-test timeouts are long; files run one at a time because they share one local cluster.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The fault-injection suite stops and kills data plane components: only `npm run test:faults`
    // (test/faults/run.sh, which sets QP_FAULTS=1) runs it, never a plain `vitest run`.
    exclude: [...configDefaults.exclude, ...(process.env.QP_FAULTS === '1' ? [] : ['test/faults/**'])],
    environment: 'node',
    // Every run writes its temporary files (CDK's cdk.out folders above all) in one folder it removes at the end.
    globalSetup: ['test/scratch-tmpdir.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    reporters: ['default'],
  },
});
