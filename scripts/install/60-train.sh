#!/usr/bin/env bash
# Training extras: peft (LoRA) and ray (RayExecutor), pinned, in $VENV; gymnasium in the verl venv (.venv-verl,
# built by 50-verl.sh) so the verl agent-loop integration (harness/verl) can make our envs there.
# Idempotent: only installs what is missing or at the wrong version.
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=${VENV:-.venv}
VERL_VENV=${VERL_VENV:-.venv-verl}
PEFT_VERSION=0.21.2
RAY_VERSION=2.60.0
TENSORBOARD_VERSION=2.21.0
GYMNASIUM_VERSION=1.4.0

have() {  # have PYTHON DIST VERSION
  "$1" -c "import importlib.metadata as m, sys; sys.exit(m.version('$2') != '$3')" 2>/dev/null
}

PY="$VENV/bin/python"
need=()
have "$PY" peft "$PEFT_VERSION" || need+=("peft==$PEFT_VERSION")
have "$PY" ray "$RAY_VERSION" || need+=("ray==$RAY_VERSION")
have "$PY" tensorboard "$TENSORBOARD_VERSION" || need+=("tensorboard==$TENSORBOARD_VERSION")
if [ ${#need[@]} -gt 0 ]; then
  echo "[60-train] installing ${need[*]} into $VENV"
  "$PY" -m pip install -q --disable-pip-version-check "torch==2.13.0" "${need[@]}"
fi
"$PY" -c "import peft, ray; print('[60-train] peft', peft.__version__, 'ray', ray.__version__)"

if [ -x "$VERL_VENV/bin/python" ]; then
  if ! have "$VERL_VENV/bin/python" gymnasium "$GYMNASIUM_VERSION"; then
    echo "[60-train] installing gymnasium==$GYMNASIUM_VERSION into $VERL_VENV"
    "$VERL_VENV/bin/python" -m pip install -q --disable-pip-version-check "gymnasium==$GYMNASIUM_VERSION"
  fi
  "$VERL_VENV/bin/python" -c "import gymnasium, verl; print('[60-train] verl venv: gymnasium', gymnasium.__version__)"
else
  echo "[60-train] $VERL_VENV not found (scripts/install/50-verl.sh builds it); the verl agent-loop test needs it" >&2
  exit 1
fi
