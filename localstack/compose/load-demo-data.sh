#!/usr/bin/env bash
# Synthetic VQE records into the LocalStack profile's raw-results bucket (the demo loader of the
# embedded profile, spark-jobs/tools/demo_data.py, aimed at LocalStack instead of Garage):
#
#   bash localstack/compose/load-demo-data.sh --count 64 [--start 0] [--topic experiment.vqe]
#
# Run it after deploy.sh (the stack creates the bucket). QP_LOCALSTACK_ENDPOINT (default
# http://localhost:4566, the port compose.yaml publishes) picks another LocalStack. The data
# plane's settings (dataplane.env) are deliberately not read: they point at Garage.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
. "$repo/localstack/dataplane/lib/common.sh"
. "$repo/localstack/dataplane/lib/install.sh"
qp_install_venv  # the Python venv with boto3 (created once, in the cache); not Garage or Spark

export QP_S3_ENDPOINT="${QP_LOCALSTACK_ENDPOINT:-http://localhost:4566}"
export QP_S3_REGION="${QP_LOCALSTACK_REGION:-us-east-1}"
# LocalStack's placeholder credentials, not a secret (and never the caller's real AWS keys).
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test
unset AWS_SESSION_TOKEN AWS_PROFILE
export PYTHONPATH="$repo/spark-jobs:$repo/spark-jobs/tools${PYTHONPATH:+:$PYTHONPATH}"
exec "$QP_PYTHON" "$repo/spark-jobs/tools/demo_data.py" "$@"
