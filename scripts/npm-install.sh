#!/usr/bin/env bash
# Installs node_modules exactly as package-lock.json says, once per lock file content
# (npm's download cache lives in ~/.npm, outside the repository).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
stamp="node_modules/.quantum-pipeline-lock"
wanted="$(sha256sum package-lock.json | cut -c1-16)"
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  npm ci --no-audit --no-fund --loglevel=error
  printf '%s\n' "$wanted" >"$stamp"
fi
