"""A fake OpenAI-compatible server (a test double) that answers instantly, for tests and overhead benchmarks.

Replies come from a list (cycled) or a function of the request body. Faults are injected from a queue, one per
request, before normal replies resume: `"429"`, `"500"`, `"503"`, `"slow:<seconds>"`, `"malformed"` (invalid JSON
with status 200), `"empty"` (a JSON body without choices). Add faults at run time with `POST /fake/faults`;
`fault_rate` answers that share of the other requests with a 500 (seeded).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response


class FakeOpenAI:
    """State of one fake server; `app` is its ASGI app."""

    def __init__(
        self,
        replies: Iterable[str] | Callable[[dict[str, Any]], str] = ("<action>A</action>",),
        faults: Iterable[str] = (),
        model: str = "fake-model",
        fault_rate: float = 0.0,
        seed: int = 0,
    ):
        self.reply_fn = replies if callable(replies) else None
        self.replies = itertools.cycle(list(replies)) if not callable(replies) else None
        self.faults: deque[str] = deque(faults)
        self.fault_rate = fault_rate  # besides the queue: this share of requests gets a 500
        self.rng = random.Random(seed)
        self.model = model
        self.requests: list[dict[str, Any]] = []
        self.app = self._build()

    def _reply(self, body: dict[str, Any]) -> str:
        if self.reply_fn is not None:
            return self.reply_fn(body)
        assert self.replies is not None
        return next(self.replies)

    def _build(self) -> Any:
        app = FastAPI()

        @app.get("/v1/models")
        async def models() -> dict[str, Any]:
            return {"object": "list", "data": [{"id": self.model, "object": "model", "created": 0, "owned_by": "x"}]}

        @app.post("/fake/faults")
        async def add_faults(request: Request) -> dict[str, Any]:
            self.faults.extend((await request.json())["faults"])
            return {"queued": len(self.faults)}

        @app.post("/v1/chat/completions")
        async def chat(request: Request) -> Any:
            body = await request.json()
            self.requests.append(body)
            fault = self.faults.popleft() if self.faults else None
            if fault is None and self.fault_rate and self.rng.random() < self.fault_rate:
                fault = "500"
            if fault in ("429", "500", "502", "503"):
                headers = {"retry-after": "0"} if fault == "429" else None
                return JSONResponse({"error": {"message": f"injected {fault}", "type": "fake"}},
                                    status_code=int(fault), headers=headers)
            if fault == "malformed":
                return Response('{"id": "x", "choices": [ {"message": ', media_type="application/json")
            if fault == "empty":
                return JSONResponse({"id": "x", "object": "chat.completion", "created": 0, "model": self.model})
            if fault and fault.startswith("slow:"):
                await asyncio.sleep(float(fault.split(":", 1)[1]))
            text = self._reply(body)
            n_tokens = max(1, len(text.encode()))
            choice: dict[str, Any] = {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": "stop",
                "token_ids": list(text.encode()),
            }
            if body.get("logprobs"):
                choice["logprobs"] = {"content": [
                    {"token": chr(b) if b < 128 else "?", "logprob": -0.5, "bytes": [b], "top_logprobs": []}
                    for b in text.encode()
                ]}
            return {
                "id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": self.model,
                "choices": [choice], "prompt_token_ids": [1, 2, 3],
                "usage": {"prompt_tokens": 3, "completion_tokens": n_tokens, "total_tokens": 3 + n_tokens},
            }

        return app
