#!/usr/bin/env bash
# SWE-bench env: bubblewrap + git (apt, when root), and the swebench package 4.1.0 installed WITHOUT its dependencies.
# Why 4.1.0: it still has the per-repo spec tables, make_test_spec, the log parsers and grading for classic
# SWE-bench(-Verified) rows; 5.x dropped them. Why --no-deps: its declared deps pull docker, modal, ghapi, GitPython,
# pre-commit, ... (~80 packages) that we never import (agent_envs/swebench/spec.py imports the submodules directly);
# the few it needs (datasets, unidiff, python-dotenv, requests, pyarrow) are pinned in the [swebench] extra.
# Idempotent. Needs $VENV.
set -euo pipefail
VENV=${VENV:-.venv}
log() { printf '\033[1;34m[swebench]\033[0m %s\n' "$*"; }
missing=()
command -v bwrap >/dev/null || missing+=(bubblewrap)
command -v git >/dev/null || missing+=(git)
command -v patch >/dev/null || missing+=(patch)
command -v prlimit >/dev/null || missing+=(util-linux)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "apt-get install ${missing[*]}"
    apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null 2>&1 || {
      apt-get update -q -o DPkg::Lock::Timeout=600 >/dev/null && \
        apt-get install -y -q -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null; }
  else
    echo "[swebench] please install: ${missing[*]} (the local SWE-bench sandbox needs them)" >&2
    exit 1
  fi
fi
PIP=("$VENV/bin/python" -m pip --disable-pip-version-check)
if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('swebench') != '4.1.0')" 2>/dev/null; then
  log "pip install --no-deps swebench==4.1.0"
  flock /tmp/aemgym-pip.lock "${PIP[@]}" install -q --no-deps swebench==4.1.0
fi
flock /tmp/aemgym-pip.lock "${PIP[@]}" install -q "datasets==5.2.0" "pyarrow==26.0.1" "unidiff==0.7.5" "python-dotenv==1.2.1" "requests>=2.31"
# uv resolves local template environments with --exclude-newer <environment date> (period-correct dependencies).
flock /tmp/aemgym-pip.lock "${PIP[@]}" install -q "uv==0.13.8"
log "ok: $(bwrap --version), swebench 4.1.0, $("$VENV/bin/uv" --version)"
