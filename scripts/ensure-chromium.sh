#!/usr/bin/env bash
# Makes sure a headless Chromium is on this machine for the run-report browser tests
# (test/report, test/e2e): Debian's `chromium` package, never a browser downloaded by npm.
# Idempotent: does nothing when `chromium` (or QP_CHROMIUM) is there. Otherwise installs the
# package with apt-get when it runs as root or has password-less sudo, else says what to install.
set -euo pipefail
if [ -n "${QP_CHROMIUM:-}" ] && [ -x "$QP_CHROMIUM" ]; then exit 0; fi
if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "ensure-chromium: no Chromium found and no root to install it: install the Debian package 'chromium'" \
    "(sudo apt-get install -y chromium) or point QP_CHROMIUM at a Chromium binary" >&2
  exit 1
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "ensure-chromium: no Chromium found and no apt-get: install Chromium with this system's package manager" \
    "or point QP_CHROMIUM at its binary" >&2
  exit 1
fi
echo "ensure-chromium: installing the Debian package chromium (once per machine)" >&2
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2 ||
  { "${as_root[@]}" apt-get update >&2 && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >&2; }
command -v chromium >/dev/null 2>&1
