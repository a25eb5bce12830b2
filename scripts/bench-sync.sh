#!/usr/bin/env bash
# `npm run bench:sync -- [options]`: the R2 sync against rclone on the local data plane (bench/r2_sync.ts).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
. localstack/lib/common.sh
bash localstack/dataplane.sh start
bash scripts/npm-install.sh
set -a
. "$QP_STATE_DIR/dataplane.env"
set +a
export PATH="$repo/node_modules/.bin:$PATH"
exec tsx bench/r2_sync.ts "$@"
