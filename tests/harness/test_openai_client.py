"""OpenAIPolicy against real local HTTP servers: the tiny-model server and the fault-injecting fake."""

from __future__ import annotations

import asyncio
import json
import urllib.request

from harness.policies.openai_compat import OpenAIPolicy
from harness.serve.runner import free_port
from harness.types import StepContext

CTX = StepContext(task_id="t", step=0)
MESSAGES = [{"role": "user", "content": "Which door?"}]


def ask(policy: OpenAIPolicy):
    return asyncio.run(policy.respond(MESSAGES, CTX))


def test_real_server_normal_reply_with_token_ids(tiny_server, tiny_policy):
    policy = OpenAIPolicy(base_url=tiny_server.base_url, max_tokens=8, return_token_ids=True, seed=3)
    response = ask(policy)
    assert response.error is None
    assert policy.model == "tiny"  # discovered from /v1/models
    assert response.prompt_token_ids == tiny_policy.encode(MESSAGES)
    assert 0 < len(response.token_ids) <= 8
    assert response.usage == {"prompt_tokens": len(response.prompt_token_ids),
                              "completion_tokens": len(response.token_ids)}
    assert response.logprobs is None  # not requested
    assert tiny_policy.tokenizer.decode(response.token_ids, skip_special_tokens=True) == response.text


def test_real_server_logprobs_and_top_logprobs(tiny_server):
    policy = OpenAIPolicy(base_url=tiny_server.base_url, model="tiny", max_tokens=6, logprobs=True, top_logprobs=3,
                          temperature=0.0)
    response = ask(policy)
    assert response.error is None
    assert len(response.logprobs) == len(response.token_ids)
    assert all(lp <= 0.0 for lp in response.logprobs)
    # greedy: the chosen token is the most likely one, its log-prob the top alternative's
    body = json.dumps({"model": "tiny", "messages": MESSAGES, "max_tokens": 4, "temperature": 0, "logprobs": True,
                       "top_logprobs": 3, "n": 2}).encode()
    request = urllib.request.Request(tiny_server.base_url + "/chat/completions", body,
                                     {"Content-Type": "application/json"})
    data = json.loads(urllib.request.urlopen(request, timeout=30).read())
    assert len(data["choices"]) == 2
    for item in data["choices"][0]["logprobs"]["content"]:
        assert len(item["top_logprobs"]) == 3
        assert item["logprob"] == max(alt["logprob"] for alt in item["top_logprobs"])


def test_429_then_success_is_retried(fake_server):
    fake_server.fake.faults.extend(["429", "429"])
    response = ask(OpenAIPolicy(base_url=fake_server.base_url, max_retries=3, backoff_s=0.01))
    assert response.error is None and response.text == "<action>A</action>"
    assert len(fake_server.fake.requests) == 3


def test_500_is_retried_then_reported(fake_server):
    fake_server.fake.faults.extend(["500"] * 3)
    response = ask(OpenAIPolicy(base_url=fake_server.base_url, max_retries=2, backoff_s=0.01))
    assert response.text == "" and "InternalServerError" in response.error and "3 attempt" in response.error
    assert len(fake_server.fake.requests) == 3
    assert ask(OpenAIPolicy(base_url=fake_server.base_url, max_retries=0)).error is None  # the queue is drained


def test_slow_reply_times_out_then_retry_succeeds(fake_server):
    fake_server.fake.faults.append("slow:4")
    response = ask(OpenAIPolicy(base_url=fake_server.base_url, model="fake-model", timeout_s=1.0, max_retries=1,
                                backoff_s=0.01))
    assert response.error is None and response.text
    fake_server.fake.faults.extend(["slow:4", "slow:4"])
    response = ask(OpenAIPolicy(base_url=fake_server.base_url, model="fake-model", timeout_s=1.0, max_retries=1,
                                backoff_s=0.01))
    assert "Timeout" in response.error


def test_malformed_json_and_missing_choices_become_errors(fake_server):
    fake_server.fake.faults.extend(["malformed", "empty"])
    policy = OpenAIPolicy(base_url=fake_server.base_url, model="fake-model", max_retries=2, backoff_s=0.01)
    first, second = ask(policy), ask(policy)
    assert first.text == "" and first.error
    assert second.text == "" and "no choices" in second.error


def test_dead_endpoint_returns_an_error_response_not_an_exception():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    response = ask(OpenAIPolicy(base_url=url, model="m", max_retries=2, backoff_s=0.01, timeout_s=2))
    assert response.text == "" and "Connection" in response.error


def test_settings_come_from_env_vars(monkeypatch):
    monkeypatch.setenv("AEMGYM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("AEMGYM_MODEL", "m1")
    monkeypatch.setenv("OPENAI_API_KEY", "k1")
    policy = OpenAIPolicy()
    assert (policy.base_url, policy.model, policy.api_key) == ("http://127.0.0.1:9/v1", "m1", "k1")
