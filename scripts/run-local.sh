#!/usr/bin/env bash
# The feature pipeline on this machine: data plane up, job 1 (raw -> 9 tables), then job 2
# (-> 2 ML tables), each submitted through the standalone master's REST API.
# Arguments are passed to job 1 (e.g. --max-files 100).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$repo/localstack/dataplane.sh" start
bash "$repo/scripts/python.sh" "$repo/spark-jobs/tools/run_job.py" feature_processing "$@"
bash "$repo/scripts/python.sh" "$repo/spark-jobs/tools/run_job.py" ml_feature_processing
