"""The web site: routes, HTML/text consistency, and 4xx (never 500) for fuzzed URLs and forms."""

from __future__ import annotations

import random
import string
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from agent_envs.webshop.engine import Session
from agent_envs.webshop.oracle import next_action
from agent_envs.webshop.pages import page_nodes, text_observation
from agent_envs.webshop.site_html import nodes_from_html, render_page
from agent_envs.webshop.webapp import create_app


@pytest.fixture(scope="module")
def client(world_1k):
    return TestClient(create_app(world_1k), raise_server_exceptions=False)


def test_html_and_text_modes_agree_on_every_page(world_1k):
    rng = random.Random(0)
    for index in range(20):
        session = Session(world_1k, f"fixed_{index}", world_1k.goals[index], random.Random(index))
        for step in range(10):
            nodes = page_nodes(session.page)
            assert nodes_from_html(render_page(session.page)) == [n.__class__(n.text, n.role) for n in nodes]
            if session.done:
                break
            actions = session.available_actions()["clickables"]
            action = next_action(session.page, session.goal) if step % 2 == 0 or not actions else \
                f"click[{rng.choice(actions)}]"
            if action == "click[search]":
                action = "search[red dress]"
            session.step(action)


def test_routes_follow_the_original(client, world_1k):
    assert client.get("/", follow_redirects=False).headers["location"] == "/abc"
    page = client.get("/fixed_0")
    assert page.status_code == 200
    assert world_1k.goals[0]["instruction_text"] in text_observation(nodes_from_html(page.text))
    res = client.post("/fixed_0", data={"search_query": "Console Table"})
    assert res.status_code == 200 and "/search_results/fixed_0/" in str(res.url)
    text = text_observation(nodes_from_html(res.text))
    assert text.startswith("Instruction: [SEP] ") and "Page 1 (Total results: " in text
    goal = world_1k.goals[0]
    opts = quote(str(dict(goal["goal_options"])), safe="")
    done = client.get(f"/done/fixed_0/{goal['asin']}/{opts}")
    assert done.status_code == 200 and '<h3 id="reward"><pre>1.0</pre></h3>' in done.text


def _fuzz_urls(rng, world):
    asin = world.catalog.products[0]["asin"]
    pieces = ["", "[", "]", "['a']", "[1]", "{}", "{'a': 1}", "{'a': 'b'}", "__import__('os')", "%00", "0", "-1",
              "99999999999", "1e9", "'", '"', "..", "%2F", "\u2603", "[" * 300, asin, asin.lower(), "Description",
              "Features", "nope", "fixed_0", "fixed_x", "fixed_-1", "x" * 5000, "{" + "'k': 'v', " * 50 + "}"]
    routes = ["/{a}", "/search_results/{a}/{b}/{c}", "/item_page/{a}/{b}/{c}/{d}/{e}",
              "/item_sub_page/{a}/{b}/{c}/{d}/{e}/{f}", "/done/{a}/{b}/{c}", "/{a}/{b}", "/static/{a}"]
    for _ in range(500):
        route = rng.choice(routes)
        fields = {k: quote(rng.choice(pieces + ["fixed_0"]), safe="") for k in "abcdef"}
        if rng.random() < 0.5:
            fields["a"] = "fixed_0"
        yield route.format(**fields)


def test_fuzzed_urls_and_forms_never_500(client, world_1k):
    client.get("/fixed_0")
    rng = random.Random(1234)
    statuses = {}
    for url in _fuzz_urls(rng, world_1k):
        method = rng.choice(["GET", "POST"])
        data = None
        if method == "POST":
            data = {"search_query": "".join(rng.choice(string.printable) for _ in range(rng.randint(0, 40)))}
        res = client.request(method, url, data=data)
        assert res.status_code < 500, (method, url, res.status_code, res.text[:200])
        statuses[res.status_code] = statuses.get(res.status_code, 0) + 1
    assert any(400 <= s < 500 for s in statuses), statuses
