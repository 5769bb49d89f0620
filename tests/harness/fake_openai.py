"""A fake OpenAI-compatible server (a test double) that answers instantly, for tests and overhead benchmarks.

Replies come from a list (cycled) or a function of the request body; a reply is a text or a dict
`{"content": ..., "tool_calls": [{"name": ..., "arguments": "<JSON>"}], "finish_reason": ...}` (tool calls get ids).
Faults are injected from a queue, one per request, before normal replies resume: `"429"`, `"500"`, `"503"`,
`"slow:<seconds>"`, `"malformed"` (invalid JSON with status 200), `"empty"` (a JSON body without choices). Add faults
at run time with `POST /fake/faults`. Server quirks, for every request: `reject_params` (a 400 naming the first such
parameter the request has, as OpenAI words it), `context_chars` (a 400 "maximum context length" when the messages
hold more characters), `ignore_logprobs` (no log-probs even when asked).
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

Reply = str | dict[str, Any]


class FakeOpenAI:
    """State of one fake server; `app` is its ASGI app."""

    def __init__(
        self,
        replies: Iterable[Reply] | Callable[[dict[str, Any]], Reply] = ("<action>A</action>",),
        faults: Iterable[str] = (),
        model: str = "fake-model",
        fault_rate: float = 0.0,
        seed: int = 0,
        reject_params: Iterable[str] = (),
        context_chars: int | None = None,
        ignore_logprobs: bool = False,
    ):
        self.reply_fn = replies if callable(replies) else None
        self.replies = itertools.cycle(list(replies)) if not callable(replies) else None
        self.faults: deque[str] = deque(faults)
        self.fault_rate = fault_rate  # besides the queue: this share of requests gets a 500
        self.rng = random.Random(seed)
        self.model = model
        self.reject_params = list(reject_params)
        self.context_chars, self.ignore_logprobs = context_chars, ignore_logprobs
        self.requests: list[dict[str, Any]] = []
        self.app = self._build()

    def _quirk(self, body: dict[str, Any]) -> str | None:
        """The 400 message this server's quirks give `body`, if any."""
        for name in self.reject_params:
            if name in body:
                hint = " Use 'max_completion_tokens' instead." if name == "max_tokens" else ""
                return f"Unsupported parameter: '{name}' is not supported with this model.{hint}"
        chars = sum(len(str(m.get("content") or "")) for m in body.get("messages", []))
        if self.context_chars is not None and chars > self.context_chars:
            return f"This model's maximum context length is {self.context_chars // 4} tokens; the messages are longer."
        return None

    def _reply(self, body: dict[str, Any]) -> Reply:
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
            quirk = self._quirk(body)
            if quirk:
                return JSONResponse({"error": {"message": quirk, "type": "invalid_request_error"}}, status_code=400)
            reply = self._reply(body)
            reply = {"content": reply} if isinstance(reply, str) else reply
            text = reply.get("content") or ""
            n_tokens = max(1, len(text.encode()))
            message: dict[str, Any] = {"role": "assistant", "content": text}
            if reply.get("tool_calls"):
                message["tool_calls"] = [
                    {"id": f"call_{len(self.requests)}_{i}", "type": "function",
                     "function": {"name": c["name"], "arguments": c.get("arguments", "{}")}}
                    for i, c in enumerate(reply["tool_calls"])
                ]
            finish = reply.get("finish_reason") or ("tool_calls" if reply.get("tool_calls") else "stop")
            choice: dict[str, Any] = {"index": 0, "message": message, "finish_reason": finish,
                                      "token_ids": list(text.encode())}
            if body.get("logprobs") and not self.ignore_logprobs:
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
