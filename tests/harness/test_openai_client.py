"""OpenAIPolicy against real local HTTP servers: the tiny-model server and the fault-injecting fake."""

from __future__ import annotations

import asyncio
import json
import urllib.request

import pytest

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


def test_a_server_wanting_max_completion_tokens_gets_it_with_one_warning(fake_server):
    fake_server.fake.reject_params = ["max_tokens", "stop"]
    policy = OpenAIPolicy(base_url=fake_server.base_url, model="fake-model", max_tokens=7, stop=["</action>"],
                          max_retries=0)
    with pytest.warns(RuntimeWarning) as warned:
        first, second = ask(policy), ask(policy)
    assert first.error is None and second.error is None
    mine = [str(w.message) for w in warned if "fake-model at" in str(w.message)]
    assert len(mine) == 2 and mine[0].endswith("the server wants max_completion_tokens instead of max_tokens; using it")
    assert mine[1].endswith("the server does not support 'stop'; sending requests without it")
    last = fake_server.fake.requests[-1]
    assert last["max_completion_tokens"] == 7 and "max_tokens" not in last and "stop" not in last
    assert len(fake_server.fake.requests) == 4  # two refusals, then every request goes through


def test_ignored_logprobs_are_reported_once(fake_server):
    fake_server.fake.ignore_logprobs = True
    policy = OpenAIPolicy(base_url=fake_server.base_url, model="fake-model", logprobs=True, max_retries=0)
    with pytest.warns(RuntimeWarning, match="ignored the requested log-probs") as warned:
        ask(policy), ask(policy)
    assert len([w for w in warned if "log-probs" in str(w.message)]) == 1


def test_a_stop_string_the_server_cut_is_put_back(fake_server):
    fake_server.fake.replies = iter(["I pick B. <action>B", "no tag at all"])
    policy = OpenAIPolicy(base_url=fake_server.base_url, model="fake-model", stop=["</action>"], max_retries=0)
    assert ask(policy).text == "I pick B. <action>B</action>"
    assert ask(policy).text == "no tag at all"


def test_tools_are_sent_and_tool_calls_parsed(fake_server):
    tools = [{"type": "function", "function": {"name": "open_door", "parameters": {"type": "object"}}}]
    fake_server.fake.replies = iter([{"content": "B it is", "tool_calls": [{"name": "open_door",
                                                                            "arguments": '{"door": "B"}'}]}])
    policy = OpenAIPolicy(base_url=fake_server.base_url, model="fake-model", max_retries=0)
    response = asyncio.run(policy.respond(MESSAGES, StepContext("t", 0, tools=tools)))
    assert response.text == "B it is" and response.finish_reason == "tool_calls"
    assert response.tool_calls == [{"id": "call_1_0", "name": "open_door", "arguments": '{"door": "B"}'}]
    request = fake_server.fake.requests[-1]
    assert request["tools"] == tools and request["parallel_tool_calls"] is False
