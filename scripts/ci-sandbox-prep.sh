#!/usr/bin/env bash
# Prepares this machine for the local sandbox backend and its tests (crates/hangar-sandbox):
# installs the host tools the backend calls, then builds the shared Debian base template once
# (debootstrap minbase, cleaned, uid-shifted) where the tests look for it.
#
#   scripts/ci-sandbox-prep.sh        # as root; idempotent (seconds when all is in place)
#
# The template directory is $HANGAR_TEMPLATE_DIR, default /var/cache/hangar-ci/templates (the
# tests use the same default). A fresh machine takes about a minute: the apt step a few
# seconds, building the init program with the rest of the workspace, debootstrap 35-60 s.
set -euo pipefail
cd "$(dirname "$0")/.."

TEMPLATES="${HANGAR_TEMPLATE_DIR:-/var/cache/hangar-ci/templates}"

if [[ $(id -u) -ne 0 ]]; then
    echo "ci-sandbox-prep: must run as root (the sandbox backend needs it)" >&2
    exit 1
fi

# debootstrap: the base template. e2fsprogs (mkfs.ext4): per-session disk caps.
# tar + zstd: snapshots. util-linux: unshare/mount helpers used by operators and tests.
missing=()
for pkg in debootstrap e2fsprogs tar zstd util-linux; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if ((${#missing[@]})); then
    echo "ci-sandbox-prep: installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

echo "ci-sandbox-prep: base template in $TEMPLATES"
started=$(date +%s)
timeout 1800 cargo run -q -p hangar-sandbox --bin hangar-sandbox-init -- \
    build-base --templates-dir "$TEMPLATES"
echo "ci-sandbox-prep: done in $(( $(date +%s) - started )) s"
