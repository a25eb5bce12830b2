#!/usr/bin/env bash
# `npm run test:faults`, through scripts/with-dataplane.sh (so the data plane is up and its
# settings are loaded): packages the Spark jobs, makes sure mini-VQE is installed, runs the
# fault-injection suite (test/faults/*.faults.test.ts), then prints one table of every fault
# injected and whether the system survived it. The suite stops and kills data plane components
# on purpose; every case leaves them running again. Extra arguments go to vitest.
set -euo pipefail
. localstack/dataplane/lib/common.sh
. mini-vqe/venv.sh
qp_install_mini_vqe
export QP_MINI_VQE_PYTHON QP_MINI_VQE_DIR
"$QP_PYTHON" spark-jobs/build.py >&2
export QP_DIST_DIR="$PWD/dist/spark-jobs"
mkdir -p "$QP_STATE_DIR/test-reports"
export QP_FAULTS_REPORT="$QP_STATE_DIR/test-reports/faults.jsonl"
rm -f "$QP_FAULTS_REPORT"
begun=$SECONDS
rc=0
QP_FAULTS=1 vitest run test/faults "$@" || rc=$?
tsx test/faults/report.ts "$QP_FAULTS_REPORT" || true
printf 'test:faults: %s in all; data plane after the run:\n' "$(date -u -d "@$((SECONDS - begun))" +%M:%S)"
bash localstack/dataplane/dataplane.sh status || rc=1
exit "$rc"
