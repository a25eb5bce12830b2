#!/usr/bin/env bash
# LocalStack profile (needs Docker and LOCALSTACK_AUTH_TOKEN): starts compose.yaml, packages the
# Spark jobs, and deploys the local-profile stack into LocalStack with cdklocal. The Lambdas then
# submit to the compose Spark master and read/write LocalStack's S3.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
command -v docker >/dev/null || { echo "docker is not installed; use the embedded profile: npm run pipeline:local" >&2; exit 1; }
: "${LOCALSTACK_AUTH_TOKEN:?set LOCALSTACK_AUTH_TOKEN (the LocalStack image requires it)}"

bash scripts/npm-install.sh
python3 spark-jobs/build.py
docker compose -f localstack/compose/compose.yaml up -d --build --wait

# Endpoints as the Lambda containers see them (compose service names on the shared network).
local_settings='{"s3Endpoint":"http://localstack:4566","s3Region":"us-east-1","sparkRestUrl":"http://spark-master:6066","sparkMasterUrl":"spark://spark-master:7077","sparkArtifactsDir":"/opt/spark-jobs/","sparkPython":"/opt/venv/bin/python"}'
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1
npx cdklocal bootstrap -c profile=local -c "local=$local_settings"
npx cdklocal deploy -c profile=local -c "local=$local_settings" --require-approval never "$@"
