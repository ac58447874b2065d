#!/usr/bin/env bash
# Runs the Python SDK compatibility suite against a real `hangar serve`.
#
#   HANGAR_BIN       server binary (default: <repo>/target/debug/hangar)
#   HANGAR_SDK_VENV  virtualenv to create/use (default: <repo>/target/sdk-venv)
#
# Extra arguments are passed to pytest, e.g. `tests/sdk/run.sh -k sessions -x`.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${HANGAR_SDK_VENV:-$repo/target/sdk-venv}"
bin="${HANGAR_BIN:-$repo/target/debug/hangar}"
[[ "$bin" = /* ]] || bin="$PWD/$bin"
export HANGAR_BIN="$bin"

if [[ ! -x "$bin" ]]; then
  echo "run.sh: hangar binary not found at $bin (build it first or set HANGAR_BIN)" >&2
  exit 1
fi

requirements="$repo/tests/sdk/requirements.txt"
if [[ ! -x "$venv/bin/python" ]]; then
  python3 -m venv "$venv"
fi
stamp="$venv/.hangar-sdk-requirements"
if ! cmp -s "$requirements" "$stamp"; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$requirements"
  cp "$requirements" "$stamp"
fi

cd "$repo"
export PYTHONDONTWRITEBYTECODE=1
exec "$venv/bin/python" -m pytest -p no:cacheprovider tests/sdk -q "$@"
