#!/usr/bin/env bash
# ALFWorld text engine: alfworld 0.4.2 + textworld 1.7.0 (text engine only, never alfworld[full]).
# Light --no-deps recipe (no spacy/thinc): the two sdist-only dependencies, jericho (C, ~80 s) and
# fast-downward-textworld (C++, ~5 min), are built once into a wheel cache that later runs and CI reuse:
#   $AEMGYM_WHEELS (default ~/.cache/aemgym/wheels). Idempotent: exits early when everything imports.
# `pip check` then reports "jericho requires spacy": harmless (only used on jericho's Z-machine path).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
PY="$VENV/bin/python"
WHEELS=${AEMGYM_WHEELS:-$HOME/.cache/aemgym/wheels}
LOCK=/tmp/aemgym-pip.lock
log() { printf '\033[1;34m[alfworld]\033[0m %s\n' "$*"; }
pip_locked() { if command -v flock >/dev/null; then flock "$LOCK" "$PY" -m pip --disable-pip-version-check "$@"; else "$PY" -m pip --disable-pip-version-check "$@"; fi; }

ENGINE=(alfworld==0.4.2 textworld==1.7.0 jericho==3.3.1 fast-downward-textworld==20.6.4)
DEPS=(tatsu==5.8.3 hashids==1.3.1 mementos==1.3.1 termcolor==3.3.0 prompt_toolkit==3.0.53 more_itertools==11.2.1
      "networkx>=3" "numpy>=1.26" "tqdm>=4.66")

check() {
  "$PY" - <<'EOF' 2>/dev/null
import importlib.metadata as md
want = {"alfworld": "0.4.2", "textworld": "1.7.0", "jericho": "3.3.1", "fast-downward-textworld": "20.6.4"}
assert all(md.version(name) == version for name, version in want.items())
import fast_downward, textworld.envs.pddl, alfworld.agents.environment.alfred_tw_env  # noqa: F401
fast_downward.load_lib()
EOF
}

if check; then
  log "ALFWorld engine already installed"
  exit 0
fi

if ! command -v g++ >/dev/null || ! command -v cmake >/dev/null || ! command -v make >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing the C/C++ toolchain (g++, make, cmake) for the source builds"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential cmake >/dev/null
  else
    echo "[alfworld] need g++, make and cmake to build fast-downward-textworld and jericho" >&2
    exit 1
  fi
fi

mkdir -p "$WHEELS"
for spec in jericho==3.3.1 fast-downward-textworld==20.6.4; do
  name=${spec%%==*}; version=${spec##*==}
  if ! ls "$WHEELS"/"${name//-/_}"-"$version"-*.whl >/dev/null 2>&1; then
    log "building $spec (once; cached in $WHEELS)"
    "$PY" -m pip --disable-pip-version-check wheel -q --no-deps -w "$WHEELS" "$spec"
  fi
done

log "installing ${ENGINE[*]} (--no-deps) and their light dependencies"
pip_locked install -q --no-deps --find-links "$WHEELS" "${ENGINE[@]}"
pip_locked install -q "${DEPS[@]}"
check || { echo "[alfworld] the ALFWorld engine does not import after installation" >&2; exit 1; }
log "ALFWorld engine ready"
