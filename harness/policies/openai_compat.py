"""`OpenAIPolicy`: any OpenAI-compatible chat endpoint (OpenAI, vLLM, SGLang, our own `aemgym serve`).

Retries 429 / 5xx / timeouts / connection errors with capped exponential backoff and jitter (honouring
`Retry-After`), limits concurrent requests with a semaphore, and parses the token-level extensions RL needs
(`prompt_token_ids`, `choices[i].token_ids` from vLLM's `return_token_ids`, `logprobs.content[].logprob`).
A request that still fails after the retries returns `PolicyResponse(text="", error=...)`: the runner marks that
episode as an error and the run goes on; a prompt the server refuses as too long ends the episode as truncated
(`finish_reason="context_length"`).

Tools (the `tools` scaffold) are sent with `parallel_tool_calls=false` and the reply's `tool_calls` parsed. Servers
differ: a server that rejects a sampling parameter ("Unsupported parameter: 'stop'") gets the request again without
it, and `max_completion_tokens` instead of `max_tokens` when it asks for that (each said once, as a warning); a
server that ignores requested log-probs is reported once. Stop strings the server cut from a reply are put back when
they close an open tag (`</action>` after `<action>`), so the env still finds the action.
"""

from __future__ import annotations

import asyncio
import os
import random
import re
import time
import warnings
from typing import Any

from harness.types import CONTEXT_EXCEEDED, Message, PolicyResponse, StepContext

_RETRY_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# OpenAI: "Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead."
_UNSUPPORTED = re.compile(r"unsupported (?:parameter|value)[^'\"]*['\"]([a-z_]+)['\"]|['\"]([a-z_]+)['\"] is not "
                          r"supported", re.IGNORECASE)
_CONTEXT = re.compile(r"context.length|maximum context|context window|prompt is too long|too many (?:input )?tokens",
                      re.IGNORECASE)


def _env(*names: str) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


class OpenAIPolicy:
    """Chat completions over the `openai` package.

    Args:
        model: model name; default `$AEMGYM_MODEL`, else the first id listed by the server's `/v1/models`.
        base_url: default `$AEMGYM_BASE_URL`, then `$OPENAI_BASE_URL`, then the openai package default.
        api_key: default `$AEMGYM_API_KEY`, then `$OPENAI_API_KEY`, then "EMPTY" (local servers ignore it).
        temperature, top_p, max_tokens, stop, seed: sampling parameters (None = server default).
        token_limit_field: the request field of `max_tokens`: "max_tokens" or "max_completion_tokens" (OpenAI's
            reasoning models); switched automatically when the server asks for the other.
        parallel_tool_calls: sent with tools (None: not sent); False asks for one call per reply.
        logprobs: request per-token log-probabilities (`top_logprobs` alternatives each).
        return_token_ids: request vLLM-style `token_ids` / `prompt_token_ids` (`extra_body`).
        extra_body: more JSON fields for the request body.
        timeout_s: per-request timeout.
        max_retries: retries after the first attempt for retryable failures.
        backoff_s, backoff_cap_s: first backoff and its cap (doubling, times a 0.5-1.0 jitter).
        concurrency: most requests in flight at once from this policy.
    """

    def __init__(
        self,
        model: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        temperature: float | None = None,
        top_p: float | None = None,
        max_tokens: int | None = None,
        stop: list[str] | str | None = None,
        seed: int | None = None,
        token_limit_field: str = "max_tokens",
        parallel_tool_calls: bool | None = False,
        logprobs: bool = False,
        top_logprobs: int | None = None,
        return_token_ids: bool = False,
        extra_body: dict[str, Any] | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        backoff_s: float = 0.5,
        backoff_cap_s: float = 30.0,
        concurrency: int = 64,
        name: str | None = None,
    ):
        self.model = model or _env("AEMGYM_MODEL")
        self.base_url = base_url or _env("AEMGYM_BASE_URL", "OPENAI_BASE_URL")
        self.api_key = api_key or _env("AEMGYM_API_KEY", "OPENAI_API_KEY") or "EMPTY"
        if token_limit_field not in ("max_tokens", "max_completion_tokens"):
            raise ValueError(f"token_limit_field: max_tokens or max_completion_tokens, not {token_limit_field!r}")
        self.stop = [stop] if isinstance(stop, str) else list(stop or [])
        self.sampling = {
            k: v
            for k, v in {"temperature": temperature, "top_p": top_p, token_limit_field: max_tokens,
                         "stop": self.stop or None, "seed": seed}.items()
            if v is not None
        }
        self.parallel_tool_calls = parallel_tool_calls
        if logprobs:
            self.sampling["logprobs"] = True
            if top_logprobs:
                self.sampling["top_logprobs"] = int(top_logprobs)
        self.extra_body = dict(extra_body or {})
        if return_token_ids:
            self.extra_body["return_token_ids"] = True
        self.timeout_s = float(timeout_s)
        self.max_retries = int(max_retries)
        self.backoff_s, self.backoff_cap_s = float(backoff_s), float(backoff_cap_s)
        self.concurrency = int(concurrency)
        self.name = name or f"openai:{self.model or 'auto'}"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: Any = None
        self._semaphore: asyncio.Semaphore | None = None
        self._model_lock: asyncio.Lock | None = None
        self._warned: set[str] = set()

    # The client and semaphore belong to one event loop; `run_episodes_sync` may create a new loop per call.
    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        import httpx
        import openai

        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        self._client = openai.AsyncOpenAI(
            base_url=self.base_url,
            api_key=self.api_key,
            timeout=self.timeout_s,
            max_retries=0,  # we retry ourselves, with jitter and a clear final error
            http_client=httpx.AsyncClient(limits=limits, timeout=self.timeout_s),
        )
        self._semaphore = asyncio.Semaphore(self.concurrency)
        self._model_lock = asyncio.Lock()
        self._loop = loop

    async def _resolve_model(self) -> str:
        assert self._model_lock is not None
        async with self._model_lock:
            if not self.model:
                models = await self._client.models.list()
                if not models.data:
                    raise RuntimeError(f"{self.base_url} lists no models; pass --model")
                self.model = models.data[0].id
                self.name = f"openai:{self.model}"
        return self.model

    def _retry_delay(self, attempt: int, error: Exception) -> float:
        delay = min(self.backoff_cap_s, self.backoff_s * (2**attempt)) * random.uniform(0.5, 1.0)
        response = getattr(error, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        if retry_after:
            try:
                delay = max(delay, min(self.backoff_cap_s, float(retry_after)))
            except ValueError:
                pass
        return delay

    @staticmethod
    def _retryable(error: Exception) -> bool:
        import openai

        if isinstance(error, (openai.APITimeoutError, openai.APIConnectionError)):
            return True
        if isinstance(error, openai.APIStatusError):
            return error.status_code in _RETRY_STATUS or error.status_code >= 500
        return False

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            warnings.warn(f"{self.name} at {self.base_url}: {message}", RuntimeWarning, stacklevel=3)

    def _adapt(self, error: Exception) -> bool:
        """Drop (or rename) a request parameter the server refused; True when the request should be sent again."""
        match = _UNSUPPORTED.search(str(error)) if getattr(error, "status_code", None) == 400 else None
        name = next((g for g in match.groups() if g), None) if match else None
        if name == "max_tokens" and "max_tokens" in self.sampling:
            self.sampling["max_completion_tokens"] = self.sampling.pop("max_tokens")
            self._warn_once(name, "the server wants max_completion_tokens instead of max_tokens; using it")
            return True
        if name in self.sampling or (name == "parallel_tool_calls" and self.parallel_tool_calls is not None):
            if name == "parallel_tool_calls":
                self.parallel_tool_calls = None
            else:
                self.sampling.pop(name)
                self.stop = [] if name == "stop" else self.stop  # nothing to put back
            self._warn_once(name, f"the server does not support {name!r}; sending requests without it")
            return True
        return False

    def _request(self, model: str, messages: list[Message], context: StepContext) -> dict[str, Any]:
        request = {"model": model, "messages": messages, **self.sampling}
        if context.tools:
            request["tools"] = context.tools
            if self.parallel_tool_calls is not None:
                request["parallel_tool_calls"] = self.parallel_tool_calls
        return {**request, **self.extra_body}

    async def respond(self, messages: list[Message], context: StepContext) -> PolicyResponse:
        """One chat completion; never raises for backend failures (see the module docstring)."""
        from openai.types.chat import ChatCompletion

        self._bind()
        assert self._semaphore is not None
        started = time.perf_counter()
        async with self._semaphore:
            attempt = 0
            while True:
                try:
                    model = self.model or await self._resolve_model()
                    # `post` sends the body as it is: `chat.completions.create` first walks every message through the
                    # openai package's type transform (1.6 ms CPU at 16 messages, 10 ms at 100: quadratic per episode)
                    completion = await self._client.post("/chat/completions", cast_to=ChatCompletion,
                                                         body=self._request(model, messages, context))
                    response = parse_completion(completion, self.stop)
                    if self.sampling.get("logprobs") and response.logprobs is None and response.text:
                        self._warn_once("logprobs", "the server ignored the requested log-probs (logprobs=true)")
                    response.latency_s = time.perf_counter() - started
                    return response
                except Exception as error:  # noqa: BLE001 - every backend failure becomes an error response
                    if self._adapt(error):
                        continue
                    if getattr(error, "status_code", None) == 400 and _CONTEXT.search(str(error)):
                        return PolicyResponse(text="", error=f"the prompt does not fit: {str(error)[:300]}",
                                              finish_reason=CONTEXT_EXCEEDED,
                                              latency_s=time.perf_counter() - started)
                    attempt += 1
                    if attempt <= self.max_retries and self._retryable(error):
                        await asyncio.sleep(self._retry_delay(attempt - 1, error))
                        continue
                    tries = f" after {attempt} attempt(s)" if attempt > 1 else ""
                    return PolicyResponse(
                        text="",
                        error=f"{type(error).__name__}{tries}: {str(error)[:500]}",
                        latency_s=time.perf_counter() - started,
                    )


def restore_stop(text: str, stops: list[str], matched: Any = None) -> str:
    """`text` with the stop string the server cut put back: the one it reports (vLLM's `stop_reason`), else a closing
    tag (`</x>`) whose opening tag is still open.
    """
    if isinstance(matched, str) and matched in stops:
        return text + matched
    for stop in stops:
        if stop.startswith("</") and stop.endswith(">") and text.rfind("<" + stop[2:]) > text.rfind(stop):
            return text + stop
    return text


def parse_completion(completion: Any, stops: list[str] | None = None) -> PolicyResponse:
    """A `PolicyResponse` from an openai `ChatCompletion`, including vLLM-style extensions kept in `model_extra`.

    Args:
        completion: the reply.
        stops: the request's stop strings (one the server cut from the text is put back, see `restore_stop`).

    Raises:
        ValueError: the completion has no choices or no message (a malformed reply).
    """
    if not getattr(completion, "choices", None):
        raise ValueError(f"malformed completion (no choices): {str(completion)[:200]}")
    choice = completion.choices[0]
    message = choice.message
    text = (message.content if message is not None else None) or ""
    extra = completion.model_extra or {}
    choice_extra = choice.model_extra or {}
    logprobs = None
    if choice.logprobs is not None and choice.logprobs.content is not None:
        logprobs = [float(item.logprob) for item in choice.logprobs.content]
    usage = {}
    if completion.usage is not None:
        usage = {
            "prompt_tokens": int(completion.usage.prompt_tokens or 0),
            "completion_tokens": int(completion.usage.completion_tokens or 0),
        }
    token_ids = choice_extra.get("token_ids")
    prompt_ids = extra.get("prompt_token_ids") or choice_extra.get("prompt_token_ids")
    if stops and choice.finish_reason == "stop":
        text = restore_stop(text, stops, choice_extra.get("stop_reason"))
    tool_calls = None
    if message is not None and message.tool_calls:
        tool_calls = [{"id": call.id, "name": call.function.name, "arguments": call.function.arguments}
                      for call in message.tool_calls if getattr(call, "function", None) is not None]
    return PolicyResponse(
        text=text,
        prompt_token_ids=[int(t) for t in prompt_ids] if prompt_ids else None,
        token_ids=[int(t) for t in token_ids] if token_ids is not None else None,
        logprobs=logprobs,
        finish_reason=choice.finish_reason,
        usage=usage,
        tool_calls=tool_calls,
    )
