#!/usr/bin/env bash
# `npm run pipeline:local -- [input JSON]`: the feature pipeline on this machine (and the R2 sync
# it triggers). Starts the data plane if needed, packages the Spark jobs, and executes the
# synthesized state machines in-process (localstack/embedded/run-pipeline.ts): real handlers, real
# Spark standalone, real Garage. `scripts/run-local.sh --sync [input JSON]` runs the R2 sync alone.
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
if [ "${1:-}" = "--sync" ]; then
  shift
  exec tsx localstack/embedded/run-r2-sync.ts "$@"
fi
exec tsx localstack/embedded/run-pipeline.ts "$@"
