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


@pytest.fixture(scope="module")
def live_server(world_1k):
    """The site on a real uvicorn server (127.0.0.1, free port), few sessions so that eviction is exercised."""
    from agent_envs.webshop.webapp import ServerThread

    server = ServerThread(create_app(world_1k, max_sessions=40)).start()
    yield server
    server.stop()


def _malformed_paths(rng: random.Random, asin: str) -> list[str]:
    """The three paths that answered 500 before, then random combinations of hostile segments."""
    kw = quote(str(["red", "dress"]), safe="")
    known = [f"/search_results/fixed_0/{kw}/%C2%B2", f"/search_results/fixed_0/{kw}/{'9' * 5000}", "/fixed_%C2%B2"]
    pieces = ["%C2%B2", "%D9%A3", "%EF%BC%91", "9" * 5000, "-1", "0", "1001", "1e3", "0x10", "%ff", "%ED%A0%BD",
              "%00", "%0A", "%E2%80%AE", "%F0%9F%98%80", "[", "['a'", "[" * 500, "{" * 500, "{'a': 1}", "['a', 1]",
              "%7B0%7D", "%25s", "..%2F..", "%3Cscript%3E", "x" * 4500, asin, "Reviews", "fixed_", "fixed_999999999999"]
    routes = ["/{a}", "/search_results/{a}/{b}/{c}", "/item_page/{a}/{d}/{b}/{c}/{e}",
              "/item_sub_page/{a}/{d}/{b}/{c}/{f}/{e}", "/done/{a}/{d}/{e}", "/{a}/{b}/{c}/{d}/{e}/{f}/{a}"]
    paths = list(known)
    for _ in range(600):
        fields = {k: rng.choice(pieces) for k in "abcdef"}
        if rng.random() < 0.6:
            fields.update(a="fixed_0", b=kw, c="1", d=asin, e="%7B%7D", f="Reviews")
            fields[rng.choice("abcdef")] = rng.choice(pieces)
        paths.append(rng.choice(routes).format(**fields))
    return paths


def test_live_server_answers_malformed_requests_with_4xx(live_server, world_1k):
    import httpx

    rng = random.Random(16)
    statuses: dict[int, int] = {}
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        assert http.get("/fixed_0").status_code == 200
        for i, path in enumerate(_malformed_paths(rng, world_1k.catalog.products[0]["asin"])):
            if i % 10 == 0:
                http.get("/fixed_0")  # keep the session alive among the evictions of random session ids
            if rng.random() < 0.2:  # few POSTs: each costs a delayed ACK on loopback
                res = http.post(path, data={"search_query": rng.choice(["", "x" * 10_000, "{0} %s", "\u202e\x00"])})
            else:
                res = http.get(path)
            method = res.request.method
            assert res.status_code < 500, (method, path[:120], res.status_code, res.text[:200])
            statuses[res.status_code] = statuses.get(res.status_code, 0) + 1
        for path in _malformed_paths(rng, "")[:3]:  # the three known ones: a clear 4xx message
            res = http.get(path)
            assert res.status_code in (400, 404) and ("page must be" in res.text or "no goal" in res.text), res.text
    print(f"malformed requests by status: {statuses}")
    assert statuses.get(400, 0) > 50 and statuses.get(404, 0) > 50, statuses


def test_live_server_bounds_sessions(live_server):
    import httpx

    shop = live_server.server.config.app.state.shop
    with httpx.Client(base_url=live_server.url, timeout=60) as http:
        for i in range(100):
            assert http.get(f"/visitor-{i}").status_code == 200
        assert len(shop.sessions) <= 40
        gone = http.get(f"/search_results/visitor-0/{quote(str(['a']), safe='')}/1")
        assert gone.status_code == 404 and "open /visitor-0 first" in gone.text
        assert http.get(f"/search_results/visitor-99/{quote(str(['a']), safe='')}/1").status_code == 200


def test_session_store_evicts_least_recently_used_and_expires_idle_sessions():
    from agent_envs.webshop.webapp import SessionStore

    now = [0.0]
    store = SessionStore(max_sessions=3, ttl_s=10.0, clock=lambda: now[0])
    for sid in "abc":
        store.add(sid, {"id": sid})
    assert store.get("a") == {"id": "a"}  # "a" is now the most recently used
    store.add("d", {"id": "d"})
    assert "b" not in store and {"a", "c", "d"} == {s for s in "abcd" if s in store}
    now[0] = 5.0
    assert store.get("c") is not None
    now[0] = 12.0  # "a" and "d" idle for 12 s, "c" for 7 s
    assert store.get("a") is None and store.get("d") is None and store.get("c") == {"id": "c"}
    assert len(store) == 1
    with pytest.raises(ValueError):
        SessionStore(max_sessions=0)
