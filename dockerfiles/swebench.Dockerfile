# AEM Gym with the SWE-bench env, local (bubblewrap) backend. The Docker backend instead talks to the host's engine:
# mount /var/run/docker.sock and install the docker CLI. bubblewrap needs --privileged (or CAP_SYS_ADMIN) here.
#   docker build -f dockerfiles/swebench.Dockerfile -t aemgym-swebench .
#   docker run --privileged -v ~/.cache/aemgym:/root/.cache/aemgym aemgym-swebench aemgym swebench eval -p preds.jsonl
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends bubblewrap git patch util-linux ca-certificates \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /opt/aemgym
COPY . .
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && /opt/venv/bin/pip install --no-cache-dir -e ".[swebench]" \
    && /opt/venv/bin/pip install --no-cache-dir --no-deps swebench==4.1.0
ENV PATH=/opt/venv/bin:$PATH
CMD ["aemgym", "--help"]
