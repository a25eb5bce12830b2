#!/usr/bin/env bash
# Runs mini-VQE: `bash scripts/mini-vqe.sh --file localstack/mini-vqe/molecules/cpu.json ...`
# (arguments as `python -m mini_vqe --help` lists them). Installs its venv on first use.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
. "$repo/localstack/lib/common.sh"
. "$repo/localstack/lib/mini-vqe.sh"
qp_install_mini_vqe
# When the data plane has run, its settings (S3 endpoint, region, keys) let --output reach it.
if [ -f "$QP_STATE_DIR/dataplane.env" ]; then set -a; . "$QP_STATE_DIR/dataplane.env"; set +a; fi
export PYTHONPATH="$QP_MINI_VQE_DIR${PYTHONPATH:+:$PYTHONPATH}"
exec "$QP_MINI_VQE_PYTHON" -m mini_vqe "$@"
