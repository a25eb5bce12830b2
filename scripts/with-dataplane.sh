#!/usr/bin/env bash
# Runs a command (from the repository root) with the local data plane up and its settings in the
# environment: starts the data plane if needed, installs the npm packages, loads dataplane.env,
# and puts node_modules/.bin (Node 22 from the npm `node` package) first on PATH.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
. localstack/dataplane/lib/common.sh
bash localstack/dataplane/dataplane.sh start >&2
bash scripts/npm-install.sh >&2
set -a
. "$QP_STATE_DIR/dataplane.env"
set +a
export QP_STATE_DIR PATH="$repo/node_modules/.bin:$PATH"
exec "$@"
