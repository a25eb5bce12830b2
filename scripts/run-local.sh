#!/usr/bin/env bash
# `npm run pipeline:local -- [input JSON]`: the feature pipeline on this machine (and the R2 sync
# it triggers). Starts the data plane if needed, packages the Spark jobs, and executes the
# synthesized state machines in-process (localstack/embedded/run-pipeline.ts): real handlers, real
# Spark standalone, real Garage. `scripts/run-local.sh --sync [input JSON]` runs the R2 sync alone.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$repo/localstack/lib/common.sh"
export QP_DIST_DIR="$repo/dist/spark-jobs"
if [ "${1:-}" = "--sync" ]; then
  shift
  exec bash "$repo/scripts/with-dataplane.sh" tsx localstack/embedded/run-r2-sync.ts "$@"
fi
bash "$repo/localstack/dataplane.sh" install >&2
"$QP_PYTHON" "$repo/spark-jobs/build.py" >&2
exec bash "$repo/scripts/with-dataplane.sh" tsx localstack/embedded/run-pipeline.ts "$@"
