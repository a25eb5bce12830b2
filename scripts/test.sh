#!/usr/bin/env bash
# `npm test`: installs what is missing, packages the Spark jobs, and runs every suite, fastest
# first so that a unit failure shows in the first minutes:
#   1. while the local data plane starts in the background: the linters and formatters (Ruff for
#      Python, Biome for TypeScript; a finding fails), the type check (tsc), a bundling
#      `cdk synth` of both profiles, the TypeScript unit tests (vitest, no data plane) and
#      mini-VQE's tests (pytest);
#   2. on the data plane: the Spark jobs' tests (pytest), then the TypeScript integration and
#      end-to-end tests (vitest).
# It stops the data plane if it started it, and ends with a table of suite times and the 10
# slowest tests. Extra arguments go to the Spark jobs' pytest. Every suite always runs, so one
# failing suite does not hide another's result; the exit status is non-zero if any failed.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
. localstack/dataplane/lib/common.sh
. mini-vqe/venv.sh
begun=$SECONDS

bash localstack/dataplane/dataplane.sh install
qp_install_mini_vqe
bash scripts/npm-install.sh
bash scripts/ensure-chromium.sh  # the run-report browser tests (unit and e2e suites)
"$QP_PYTHON" spark-jobs/build.py
export PATH="$repo/node_modules/.bin:$PATH"  # Node 22 from the npm `node` package (aws-local-stepfunctions needs it)

reports="$QP_STATE_DIR/test-reports"
rm -rf "$reports" && mkdir -p "$reports"
suites="$reports/suites.tsv"
export COVERAGE_FILE="$reports/.coverage"  # pytest-cov's data file, kept out of the repository
status=0
run_suite() {
  local name="$1" started=$SECONDS rc=0
  shift
  printf '\n== %s\n' "$name"
  "$@" || rc=$?
  printf '%s\t%s\t%s\n' "$name" $((SECONDS - started)) "$rc" >>"$suites"
  if [ "$rc" -ne 0 ]; then status=1; fi
}

started_here=0
starter=""
if ! bash localstack/dataplane/dataplane.sh status >/dev/null 2>&1; then
  bash localstack/dataplane/dataplane.sh start >"$reports/dataplane-start.log" 2>&1 &
  starter=$!
  started_here=1
fi
finish() {
  if [ -n "$starter" ]; then wait "$starter" 2>/dev/null || true; fi
  if [ "$started_here" -eq 1 ]; then bash localstack/dataplane/dataplane.sh stop; fi
}
trap finish EXIT

# 1. Suites that need no data plane, while it starts.
ruff_lint_and_format() {  # every Python file (ruff.toml); both checks run, so one does not hide the other
  local rc=0
  "$QP_PYTHON" -m ruff check --no-cache . || rc=1
  "$QP_PYTHON" -m ruff format --check --no-cache . || rc=1
  return "$rc"
}
run_suite "ruff (Python lint + format check)" ruff_lint_and_format
run_suite "biome (TypeScript lint + format check)" biome ci --colors=off .
run_suite "typecheck (tsc --noEmit)" tsc -p tsconfig.json --noEmit
synth_both_profiles() {  # the bundled Lambdas and templates that would deploy
  cdk synth --quiet -o "$reports/cdk.out.aws" && cdk synth --quiet -c profile=local -o "$reports/cdk.out.local"
}
run_suite "cdk synth (aws and local, bundled)" synth_both_profiles
# Coverage is reported (a summary per suite), not gated.
coverage() { printf '%s\n' --coverage.enabled --coverage.provider=v8 --coverage.reporter=text-summary \
  --coverage.include='infra/**' --coverage.include='lambdas/**' --coverage.include='localstack/embedded/**' \
  --coverage.reportsDirectory="$reports/coverage-$1"; }
# The CDK suites share no state between files, so they run in one module context (--no-isolate:
# 24 s instead of 48 s here, measured); the other unit suites keep vitest's default isolation
# (without it, test/r2-sync/clients.test.ts fails its signing test: it depends on a fresh module).
mapfile -t infra_coverage < <(coverage vitest-infra)
run_suite "vitest: CDK (infra)" vitest run test/infra --no-isolate \
  --reporter=default --reporter=junit --outputFile.junit="$reports/vitest-infra.xml" "${infra_coverage[@]}"
mapfile -t unit_coverage < <(coverage vitest-unit)
run_suite "vitest: unit" vitest run --exclude 'test/infra/**' --exclude 'test/e2e/**' --exclude 'test/faults/**' --exclude 'test/**/*.integration.test.ts' \
  --reporter=default --reporter=junit --outputFile.junit="$reports/vitest-unit.xml" "${unit_coverage[@]}"
run_suite "pytest: mini-VQE" "$QP_MINI_VQE_PYTHON" -m pytest mini-vqe -q --junitxml="$reports/mini-vqe.xml" \
  --cov=mini_vqe --cov-report=term

# 2. Suites on the data plane.
if [ -n "$starter" ]; then
  if ! wait "$starter"; then
    starter=""
    echo "the data plane did not start; its log ($reports/dataplane-start.log) ends with:" >&2
    tail -n 30 "$reports/dataplane-start.log" >&2
    exit 1
  fi
  starter=""
  cat "$reports/dataplane-start.log" >&2
fi
set -a
. "$QP_STATE_DIR/dataplane.env"
set +a
export QP_SPARK_CLASSPATH="$(qp_spark_classpath)"
export QP_DIST_DIR="$repo/dist/spark-jobs"

run_suite "pytest: Spark jobs" "$QP_PYTHON" -m pytest spark-jobs/tests/unit spark-jobs/tests/integration --junitxml="$reports/spark-jobs.xml" \
  --cov=quantum_pipeline --cov-report=term "$@"
mapfile -t e2e_coverage < <(coverage vitest-e2e)
run_suite "vitest: integration + e2e" vitest run test/e2e integration.test \
  --reporter=default --reporter=junit --outputFile.junit="$reports/vitest-e2e.xml" "${e2e_coverage[@]}"

"$QP_PYTHON" scripts/test-timings.py "$suites" "$reports" || true
printf 'npm test: %s in all (installs included)\n' "$(date -u -d "@$((SECONDS - begun))" +%M:%S)"
exit "$status"
