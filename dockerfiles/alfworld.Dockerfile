# syntax=docker/dockerfile:1
# ALFWorld text engine image: the package with the alfworld extra and the real engine (no GPU, no THOR).
#   docker build -f dockerfiles/alfworld.Dockerfile -t aemgym-alfworld .
#   docker run --rm -v $HOME/alfworld:/data -e ALFWORLD_DATA=/data aemgym-alfworld aemgym alfworld splits
# The two source builds (jericho, fast-downward-textworld) happen in one cached layer; mount a wheel cache at
# /root/.cache/aemgym/wheels with BuildKit to skip them (`--mount=type=cache` below).
FROM python:3.11-slim-bookworm

RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake git \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/aemgym
ENV VENV=/opt/venv PATH=/opt/venv/bin:$PATH
RUN python -m venv $VENV && $VENV/bin/pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md* ./
COPY agent_envs agent_envs
COPY harness harness
COPY aem aem
COPY scripts scripts
RUN --mount=type=cache,target=/root/.cache/aemgym/wheels \
    $VENV/bin/pip install --no-cache-dir -e ".[alfworld]" && VENV=$VENV bash scripts/install/20-alfworld.sh
ENV ALFWORLD_DATA=/data
CMD ["aemgym", "alfworld", "splits"]
