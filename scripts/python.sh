#!/usr/bin/env bash
# Runs a project Python tool with the data plane's venv and, when it runs, its settings.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$repo/localstack/dataplane/lib/common.sh"
[ -x "$QP_PYTHON" ] || bash "$repo/localstack/dataplane/dataplane.sh" install
if [ -f "$QP_STATE_DIR/dataplane.env" ]; then set -a; . "$QP_STATE_DIR/dataplane.env"; set +a; fi
export QP_SPARK_CLASSPATH="$(qp_spark_classpath)" QP_REPO_DIR="$repo" PYTHONPATH="$repo/spark-jobs:$repo/spark-jobs/tools${PYTHONPATH:+:$PYTHONPATH}"
exec "$QP_PYTHON" "$@"
