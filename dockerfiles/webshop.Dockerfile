# The WebShop site (and the text/browser envs) in a container. Build from the repo root:
#   docker build -f dockerfiles/webshop.Dockerfile -t aemgym-webshop .
#   docker run -p 3000:3000 -v /path/to/webshop-data:/data aemgym-webshop
# Without a mounted /data the bundled synthetic catalog is served.
FROM python:3.11-slim-bookworm
RUN apt-get update && apt-get install -y --no-install-recommends chromium chromium-driver \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY pyproject.toml README.md ./
COPY agent_envs ./agent_envs
COPY harness ./harness
COPY aem ./aem
RUN pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu \
    && pip install --no-cache-dir -e ".[webshop]"
ENV AEMGYM_CACHE=/cache
EXPOSE 3000
CMD ["sh", "-c", "if [ -d /data ]; then exec aemgym webshop serve --host 0.0.0.0 --port 3000 --data-dir /data; else exec aemgym webshop serve --host 0.0.0.0 --port 3000; fi"]
