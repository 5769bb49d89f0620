#!/usr/bin/env bash
# verl 0.9.1 in its OWN virtualenv (.venv-verl): verl pins transformers>=5.5.3,<5.11 while the main venv uses 5.23.
# The aem verl adapter test (tests/aem/test_verl_adapter.py) runs its checks with this interpreter via subprocess.
# Idempotent: a stamp file records the finished install. torch is constrained to the project's CPU pin so pip does
# not pull CUDA wheels. aem itself is installed --no-deps (editable) so `import aem.adapters.verl` works there.
# Override the location with VERL_VENV.
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
VERL_VENV=${VERL_VENV:-.venv-verl}
VERL_VERSION=0.9.1
TORCH_VERSION=2.13.0
stamp="$VERL_VENV/.aemgym-verl-$VERL_VERSION-torch-$TORCH_VERSION-r2"
if [ -f "$stamp" ]; then
  echo "[50-verl] verl $VERL_VERSION already installed in $VERL_VENV"
  exit 0
fi
[ -x "$VERL_VENV/bin/python" ] || "$PYTHON" -m venv "$VERL_VENV"
PIP=("$VERL_VENV/bin/python" -m pip --disable-pip-version-check)
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
echo "torch==$TORCH_VERSION" >"$constraints"
echo "[50-verl] installing torch==$TORCH_VERSION (CPU) and verl==$VERL_VERSION into $VERL_VENV (~2 min, ~2 GB)"
# Same torch source as scripts/setup.sh (the CPU wheel where pip's find-links provides it).
"${PIP[@]}" install -q "torch==$TORCH_VERSION"
# verl 0.9.1 imports these from its trainer modules without declaring them (ray_trainer → cachetools, uvicorn,
# fastapi; the v1 trainer → transfer_queue), so they are pinned here. gymnasium (for harness/verl's agent loop) comes
# before the --no-deps aem install, so pip's resolver never sees aem-gym with its extras missing.
"${PIP[@]}" install -q -c "$constraints" "verl==$VERL_VERSION" cachetools==5.5.2 uvicorn==0.54.0 fastapi==0.165.0 \
  transferqueue==0.1.11 gymnasium==1.4.0
"${PIP[@]}" install -q --no-deps -e .
"$VERL_VENV/bin/python" -c "from verl.trainer.ppo import core_algos, ray_trainer; from verl.trainer.ppo.v1 import utils
print('[50-verl] verl', core_algos.register_adv_est.__module__, 'import ok')"
touch "$stamp"
