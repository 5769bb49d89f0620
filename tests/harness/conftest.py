"""Fixtures for the harness tests: a tiny HF policy and local HTTP servers on 127.0.0.1."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def tiny_policy():
    """A randomly initialised 0.16 M-parameter model with the byte tokenizer."""
    from harness.policies import make_policy

    return make_policy("tiny", max_new_tokens=12)


@pytest.fixture(scope="module")
def tiny_server(tiny_policy):
    """The real OpenAI-compatible server over the tiny model, on a free local port."""
    from harness.serve.openai_server import create_app
    from harness.serve.runner import BackgroundServer

    with BackgroundServer(create_app(tiny_policy, model_name="tiny")) as server:
        yield server


@pytest.fixture()
def fake_server():
    """A fresh fake OpenAI server (instant scripted replies, injectable faults)."""
    from harness.serve.runner import BackgroundServer
    from tests.harness.fake_openai import FakeOpenAI

    fake = FakeOpenAI()
    with BackgroundServer(fake.app) as server:
        server.fake = fake
        yield server
