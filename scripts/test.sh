#!/usr/bin/env bash
# `npm test`: installs what is missing, packages the Spark jobs, starts the local data plane
# (unless it already runs), runs the Python tests (pytest: the Spark jobs, then mini-VQE) and the
# TypeScript tests (vitest), and stops what it started. Extra arguments go to the Spark jobs' pytest.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
. localstack/lib/common.sh
. localstack/lib/mini-vqe.sh

bash localstack/dataplane.sh install
qp_install_mini_vqe
bash scripts/npm-install.sh
"$QP_PYTHON" spark-jobs/build.py

started_here=0
if ! bash localstack/dataplane.sh status >/dev/null 2>&1; then
  bash localstack/dataplane.sh start
  started_here=1
fi
stop_if_started() { if [ "$started_here" -eq 1 ]; then bash localstack/dataplane.sh stop; fi; }
trap stop_if_started EXIT

set -a
. "$QP_STATE_DIR/dataplane.env"
set +a
export QP_SPARK_CLASSPATH="$(qp_spark_classpath)"
export QP_DIST_DIR="$repo/dist/spark-jobs"
export PATH="$repo/node_modules/.bin:$PATH"  # Node 22 from the npm `node` package (aws-local-stepfunctions needs it)

# Every suite always runs, so one failing suite does not hide another's result.
status=0
"$QP_PYTHON" -m pytest spark-jobs/tests "$@" || status=$?
"$QP_MINI_VQE_PYTHON" -m pytest localstack/mini-vqe || status=$?
vitest run || status=$?
exit "$status"
