#!/usr/bin/env bash
# Debian packages Kinora needs at build/test time. Idempotent: packages already
# installed are skipped, and the package index is only refreshed when something
# is actually missing.
set -euo pipefail

PACKAGES=(
  espeak-ng   # speaks the challenge digits for the identity liveness test fixtures
  chromium    # tests/web and benchmarks/web_bench.py drive the web app in it (Playwright, /usr/bin/chromium)
)
# Node.js runs the buf CLI (`make lint`: protobuf lint and breaking-change checks) that npm installs
# from package.json (npm ci in `make install`). Checked by command, not package: NodeSource's nodejs
# package carries npm itself and conflicts with Debian's npm package.
COMMANDS=(
  node:nodejs
  npm:npm
)

missing=()
for pkg in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
for entry in "${COMMANDS[@]}"; do
  if ! command -v "${entry%%:*}" >/dev/null; then
    missing+=("${entry#*:}")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "system-deps: all present (${PACKAGES[*]} ${COMMANDS[*]%%:*})"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "system-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
