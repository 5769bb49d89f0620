"""A local OpenAI-compatible server over a `LocalPolicy` (FastAPI + uvicorn, 127.0.0.1 by default).

Endpoints: `GET /v1/models`, `POST /v1/chat/completions` with `n`, `temperature`, `top_p`, `seed`, `max_tokens`
(or `max_completion_tokens`), `stop`, `logprobs` / `top_logprobs`. Besides the standard fields, every choice carries
vLLM-style `token_ids` and the response a top-level `prompt_token_ids`. Log-probs are those of the sampling
distribution (after temperature / top-p). Generation runs in a worker thread, one batch at a time.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from pydantic import BaseModel, Field

from harness.models.sampler import Sampling
from harness.policies.local import LocalPolicy


class ChatMessage(BaseModel):
    """One chat message (content may be a list of text parts, OpenAI style)."""

    role: str
    content: str | list[dict[str, Any]] | None = ""


class ChatRequest(BaseModel):
    """The subset of the OpenAI chat-completions request this server honours (other fields are ignored)."""

    model: str | None = None
    messages: list[ChatMessage]
    n: int = Field(1, ge=1, le=64)
    temperature: float = Field(1.0, ge=0.0, le=10.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    seed: int | None = None
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    stop: str | list[str] | None = None
    logprobs: bool = False
    top_logprobs: int | None = Field(None, ge=0, le=20)
    return_token_ids: bool = True  # accepted for vLLM compatibility; token ids are always returned


def _text(content: Any) -> str:
    if isinstance(content, list):
        return "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content or ""


def _token_bytes(tokenizer: Any, token_id: int) -> list[int]:
    text = tokenizer.decode([token_id], skip_special_tokens=False)
    return list(text.encode("utf-8", errors="replace"))


def create_app(policy: LocalPolicy, model_name: str | None = None, default_max_tokens: int = 256) -> Any:
    """The FastAPI app serving `policy` under `model_name`."""
    from fastapi import FastAPI
    from fastapi.concurrency import run_in_threadpool

    name = model_name or policy.name
    app = FastAPI(title="aemgym OpenAI-compatible server")
    tok = policy.tokenizer

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": name, "object": "model", "created": 0, "owned_by": "aemgym"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: ChatRequest) -> dict[str, Any]:
        messages = [{"role": m.role, "content": _text(m.content)} for m in request.messages]
        stop = [request.stop] if isinstance(request.stop, str) else list(request.stop or [])
        sampling = Sampling(
            max_new_tokens=request.max_completion_tokens or request.max_tokens or default_max_tokens,
            temperature=request.temperature,
            top_p=request.top_p,
            seed=request.seed,
            stop=stop,
            include_stop=False,  # OpenAI semantics: the stop string is not part of the text
            top_logprobs=(request.top_logprobs or 1) if request.logprobs else 0,
        )
        gens = await run_in_threadpool(policy.generate, [messages], sampling, request.n)
        choices = []
        for index, gen in enumerate(gens):
            choice: dict[str, Any] = {
                "index": index,
                "message": {"role": "assistant", "content": gen.text},
                "finish_reason": gen.finish_reason,
                "logprobs": None,
                "token_ids": gen.token_ids,
            }
            if request.logprobs:
                content = []
                for i, (token_id, logprob) in enumerate(zip(gen.token_ids, gen.logprobs, strict=True)):
                    alternatives = (gen.top or [[]] * len(gen.token_ids))[i][: request.top_logprobs or 0]
                    content.append({
                        "token": tok.decode([token_id], skip_special_tokens=False),
                        "logprob": logprob,
                        "bytes": _token_bytes(tok, token_id),
                        "top_logprobs": [
                            {"token": tok.decode([alt], skip_special_tokens=False), "logprob": lp,
                             "bytes": _token_bytes(tok, alt)}
                            for alt, lp in alternatives
                        ],
                    })
                choice["logprobs"] = {"content": content}
            choices.append(choice)
        prompt_ids = gens[0].prompt_token_ids if gens else []
        completion_tokens = sum(len(g.token_ids) for g in gens)
        return {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": name,
            "choices": choices,
            "prompt_token_ids": prompt_ids,
            "usage": {"prompt_tokens": len(prompt_ids), "completion_tokens": completion_tokens,
                      "total_tokens": len(prompt_ids) + completion_tokens},
        }

    return app


def load_policy(model: str, **kwargs: Any) -> LocalPolicy:
    """`tiny`, `smollm2`, `hf:<dir>` or a checkpoint directory as a `LocalPolicy` (`kwargs`: its arguments)."""
    from harness.config import LOCAL_POLICIES
    from harness.policies import make_policy

    name = model if model in LOCAL_POLICIES or model.startswith("hf:") else f"hf:{model}"
    policy = make_policy(name, **kwargs)
    assert isinstance(policy, LocalPolicy)
    return policy


def serve_forever(model: str = "smollm2", host: str = "127.0.0.1", port: int = 8000, max_batch: int = 8) -> None:
    """Load the model and serve it until interrupted."""
    import uvicorn

    policy = load_policy(model, max_batch=max_batch)
    print(f"serving {policy.name} at http://{host}:{port}/v1 (OpenAI-compatible)", flush=True)
    uvicorn.run(create_app(policy, model_name=policy.name), host=host, port=port, log_level="info")
