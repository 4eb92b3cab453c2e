#!/usr/bin/env bash
# `buf breaking` for the contracts in protos/: the working tree against a git base.
#
# The base is where this branch left main (git merge-base HEAD main, or origin/main), so a
# branch is checked as a whole whatever its number of commits. On main itself (a clean clone,
# HEAD is main) that base is HEAD, which would compare the tree with itself; there the base is
# HEAD~1, which checks the latest commit plus anything uncommitted. BUF_AGAINST overrides it
# (any buf input, e.g. '.git#tag=v1.2.0,subdir=protos').
set -euo pipefail
cd "$(dirname "$0")/.."
BUF=${BUF:-node_modules/.bin/buf}

against=${BUF_AGAINST:-}
if [ -z "$against" ]; then
  if ! head=$(git rev-parse -q --verify HEAD 2>/dev/null); then
    echo "buf-breaking: SKIPPED: not a git checkout, so there is no earlier contract to compare with" >&2
    exit 0
  fi
  base=""
  for ref in main origin/main; do
    if git rev-parse -q --verify "$ref^{commit}" >/dev/null; then
      base=$(git merge-base HEAD "$ref" 2>/dev/null || true)
      [ -n "$base" ] && break
    fi
  done
  if [ -z "$base" ] || [ "$base" = "$head" ]; then
    base=$(git rev-parse -q --verify "HEAD~1^{commit}" || true)
  fi
  if [ -z "$base" ]; then
    # A one-commit (shallow) clone has nothing to compare with: say so loudly, do not fail the build
    # on how it was cloned. Developers and full clones always run the check.
    echo "buf-breaking: SKIPPED: no earlier commit here (a shallow clone? git fetch --unshallow)" >&2
    exit 0
  fi
  against=".git#ref=$base,subdir=protos"
fi
echo "buf breaking --against '$against'"
exec "$BUF" breaking --against "$against"
