#!/usr/bin/env bash
# `npm run pipeline:local -- [input JSON]`: the feature pipeline on this machine (and the R2 sync
# it triggers). Starts the data plane if needed, packages the Spark jobs, and executes the
# synthesized state machines in-process (localstack/embedded/run-pipeline.ts): real handlers, real
# Spark standalone, real Garage. `scripts/run-local.sh --sync [input JSON]` runs the R2 sync alone;
# `--batch [input JSON]` runs a VQE batch with mini-VQE, then the feature pipeline its records start;
# `--progress [batch id]` prints a batch's progress per lane.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$repo/localstack/dataplane/lib/common.sh"
export QP_DIST_DIR="$repo/dist/spark-jobs"
case "${1:-}" in
  --sync) shift; exec bash "$repo/scripts/with-dataplane.sh" tsx localstack/embedded/run-r2-sync.ts "$@" ;;
  --progress) shift; exec bash "$repo/scripts/with-dataplane.sh" tsx localstack/embedded/batch-progress.ts "$@" ;;
esac
bash "$repo/localstack/dataplane/dataplane.sh" install >&2
entry=localstack/embedded/run-pipeline.ts
if [ "${1:-}" = "--batch" ]; then
  shift
  . "$repo/mini-vqe/venv.sh"
  qp_install_mini_vqe >&2
  entry=localstack/embedded/run-vqe-batch.ts
fi
"$QP_PYTHON" "$repo/spark-jobs/build.py" >&2
exec bash "$repo/scripts/with-dataplane.sh" tsx "$entry" "$@"
