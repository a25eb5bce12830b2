#!/usr/bin/env bash
# Runs mini-VQE: `bash mini-vqe/run.sh --file mini-vqe/molecules/cpu.json ...`
# (arguments as `python -m mini_vqe --help` lists them). Installs its venv on first use.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$repo/localstack/dataplane/lib/common.sh"
. "$repo/mini-vqe/venv.sh"
qp_install_mini_vqe
# When the data plane has run, its settings (S3 endpoint, region, keys) let --output reach it.
if [ -f "$QP_STATE_DIR/dataplane.env" ]; then set -a; . "$QP_STATE_DIR/dataplane.env"; set +a; fi
export PYTHONPATH="$QP_MINI_VQE_DIR${PYTHONPATH:+:$PYTHONPATH}"
exec "$QP_MINI_VQE_PYTHON" -m mini_vqe "$@"
