#!/usr/bin/env bash
# LocalStack profile (needs Docker): starts compose.yaml, packages the Spark jobs, creates the R2
# stand-in bucket and secret (provision.sh), and deploys the local-profile stack into LocalStack
# with cdklocal. The Lambdas then submit to the compose Spark master and read/write LocalStack's S3.
# Extra arguments go to `cdklocal deploy`. The steps and what each prints: docs/local-profiles.md.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
command -v docker >/dev/null || { echo "docker is not installed; use the embedded profile: npm run pipeline:local" >&2; exit 1; }
docker info >/dev/null 2>&1 || { echo "the Docker daemon does not answer (docker info); start it, or use the embedded profile: npm run pipeline:local" >&2; exit 1; }
# The default image (4.14.0, compose.yaml) is the Community one and needs no token; newer ones do.
if [ -n "${QP_LOCALSTACK_IMAGE:-}" ] && [ -z "${LOCALSTACK_AUTH_TOKEN:-}" ]; then
  echo "warning: QP_LOCALSTACK_IMAGE=$QP_LOCALSTACK_IMAGE without LOCALSTACK_AUTH_TOKEN; LocalStack 2026.03 and later refuse to start without one" >&2
fi

bash scripts/npm-install.sh
python3 spark-jobs/build.py
docker compose -f localstack/compose/compose.yaml up -d --build --wait
bash localstack/compose/provision.sh

# Endpoints as the Lambda containers see them (compose service names on the shared network).
local_settings='{"s3Endpoint":"http://localstack:4566","s3Region":"us-east-1","sparkRestUrl":"http://spark-master:6066","sparkMasterUrl":"spark://spark-master:7077","sparkArtifactsDir":"/opt/spark-jobs/","sparkPython":"/opt/venv/bin/python"}'
# LocalStack's placeholder credentials (account 000000000000), not a secret: never real AWS keys here.
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
unset AWS_SESSION_TOKEN AWS_PROFILE
npx cdklocal bootstrap -c profile=local -c "local=$local_settings"
npx cdklocal deploy -c profile=local -c "local=$local_settings" --require-approval never "$@"

cat <<'NEXT'

Deployed. Next (docs/local-profiles.md, "First LocalStack run"):
  bash localstack/compose/load-demo-data.sh --count 64     # demo records into s3://raw-results/experiments/
  export AWS_ENDPOINT_URL=http://localhost:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
  aws stepfunctions start-execution --state-machine-arn arn:aws:states:us-east-1:000000000000:stateMachine:QuantumPipeline-feature-pipeline --input '{}'
Schedules do not fire on LocalStack Community: start executions by hand.
NEXT
