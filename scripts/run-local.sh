#!/usr/bin/env bash
# `npm run pipeline:local -- [input JSON]`: the feature pipeline on this machine. Starts the data
# plane if needed, packages the Spark jobs, and executes the synthesized state machine in-process
# (localstack/embedded/run-pipeline.ts): real handlers, real Spark standalone, real Garage.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
. localstack/lib/common.sh
bash localstack/dataplane.sh start
bash scripts/npm-install.sh
"$QP_PYTHON" spark-jobs/build.py >&2
set -a
. "$QP_STATE_DIR/dataplane.env"
set +a
export QP_DIST_DIR="$repo/dist/spark-jobs" QP_STATE_DIR
export PATH="$repo/node_modules/.bin:$PATH"  # Node 22 (aws-local-stepfunctions needs it)
exec tsx localstack/embedded/run-pipeline.ts "$@"
