#!/usr/bin/env bash
# What the local-profile stack reads but does not create, made in the running LocalStack (on AWS
# both are prepared once by hand, docs/configuration.md):
#   - the R2 stand-in bucket (r2.bucket, default qp-data) that the R2 sync mirrors into;
#   - the Secrets Manager secret of the R2 token (r2.credentialsSecretName, default
#     quantum-pipeline/r2-credentials), {"accessKeyId": ..., "secretAccessKey": ...}.
# Safe to run again: an existing bucket is kept, an existing secret gets the new value.
#
# The token defaults to test/test: LocalStack's S3, the stand-in for R2 here, accepts any key.
# Aiming the local profile at a real R2 bucket (-c r2=...)? Export its token in
# QP_LOCALSTACK_R2_ACCESS_KEY_ID / QP_LOCALSTACK_R2_SECRET_ACCESS_KEY first; never write it in a file.
# The AWS CLI runs inside the LocalStack container (awslocal), so the host needs none.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
region="${QP_LOCALSTACK_REGION:-us-east-1}"
bucket="${QP_R2_STANDIN_BUCKET:-qp-data}"
secret_name="${QP_R2_SECRET_NAME:-quantum-pipeline/r2-credentials}"
access_key_id="${QP_LOCALSTACK_R2_ACCESS_KEY_ID:-test}"
secret_access_key="${QP_LOCALSTACK_R2_SECRET_ACCESS_KEY:-test}"

die() { printf 'provision: %s\n' "$*" >&2; exit 1; }
awslocal_in_container() {
  docker compose -f "$here/compose.yaml" exec -T localstack awslocal --region "$region" "$@"
}

# The values go into a JSON string by hand: refuse what would need escaping (named, never echoed).
for name in QP_LOCALSTACK_R2_ACCESS_KEY_ID QP_LOCALSTACK_R2_SECRET_ACCESS_KEY; do
  value="${!name:-test}"
  [ -n "$value" ] || die "$name: expected a non-empty key, got an empty value"
  case "$value" in
    *[\"\\[:cntrl:][:space:]]*) die "$name: expected a key without quotes, backslashes or spaces (value not shown)" ;;
  esac
done

if awslocal_in_container s3api head-bucket --bucket "$bucket" >/dev/null 2>&1; then
  echo "bucket s3://$bucket: exists"
else
  awslocal_in_container s3api create-bucket --bucket "$bucket" >/dev/null
  echo "bucket s3://$bucket: created"
fi

# Through stdin, so the key is not on a command line inside the container.
secret_json="{\"accessKeyId\":\"$access_key_id\",\"secretAccessKey\":\"$secret_access_key\"}"
if awslocal_in_container secretsmanager describe-secret --secret-id "$secret_name" >/dev/null 2>&1; then
  awslocal_in_container secretsmanager put-secret-value --secret-id "$secret_name" \
    --secret-string file:///dev/stdin <<<"$secret_json" >/dev/null
  echo "secret $secret_name: new value stored"
else
  awslocal_in_container secretsmanager create-secret --name "$secret_name" \
    --secret-string file:///dev/stdin <<<"$secret_json" >/dev/null
  echo "secret $secret_name: created"
fi

# The R2 sync's Lambdas get the secret's ARN without the random suffix Secrets Manager appends
# (the stack imports it by name). Check now that this LocalStack resolves it, not at the first sync.
partial_arn="arn:aws:secretsmanager:$region:000000000000:secret:$secret_name"
found="$(awslocal_in_container secretsmanager get-secret-value --secret-id "$partial_arn" --query Name --output text 2>/dev/null || true)"
[ "$found" = "$secret_name" ] ||
  die "LocalStack did not resolve $partial_arn (the ARN the R2 sync reads); got '${found:-nothing}'"
echo "secret $secret_name: readable by the ARN the R2 sync uses"
