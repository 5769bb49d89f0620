"""Malformed, partial and hostile run directories, and hostile URLs: a clear message and a status below 500, never
a traceback; run text is escaped (checked in the browser: no injected script runs)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.serve.runner import free_port
from tests.conftest import REPO_ROOT
from tests.view.conftest import HOSTILE

#: broken run -> a phrase its run page must show.
EXPECTED_NOTES = {
    "broken/torn": "last line of episodes.jsonl is incomplete",
    "broken/corrupt": "3 corrupt line(s) in episodes.jsonl skipped (line 2: not JSON",
    "broken/no-config": "No config.json",
    "broken/bad-config": "config.json cannot be read",
    "broken/flat-config": "An old flat config.json (schema 1)",
    "broken/empty": "No episodes.jsonl yet",
    "broken/bad-summary": "summary.json is not valid JSON",
    "broken/odd-summary": "summary.json holds values of unexpected types",
    "broken/odd-records": "No summary.json",
    "broken/hostile": "No summary.json",
    "broken/metrics-only": "No episodes.jsonl yet",
}


def _get(viewer: str, path: str) -> httpx.Response:
    response = httpx.get(viewer + path, timeout=60)
    assert response.status_code < 500, (path, response.status_code, response.text[-2000:])
    assert "Traceback" not in response.text and "Internal Server Error" not in response.text, path
    return response


def test_runs_list_shows_every_run(viewer: str) -> None:
    page = _get(viewer, "/").text
    for run in (*EXPECTED_NOTES, "bench/doors-expert", "train/doors-aem"):
        assert f">{run}</a>" in page, run


@pytest.mark.parametrize("run", sorted(EXPECTED_NOTES))
def test_broken_run_pages_say_what_is_wrong(viewer: str, run: str) -> None:
    response = _get(viewer, f"/run?run={run}")
    assert response.status_code == 200
    assert EXPECTED_NOTES[run] in response.text.replace("&#x27;", "'")
    for path in (f"/train?run={run}", f"/compare?a={run}&b=bench/doors-expert",
                 f"/compare?a={run}&b=bench/doors-expert&task=doors-test-0", f"/api/state?run={run}"):
        _get(viewer, path)


def test_odd_records_render_with_what_they_have(viewer: str) -> None:
    odd = _get(viewer, "/episode?run=broken/odd-records&id=odd/0")
    assert odd.status_code == 200 and "schema 3 is newer" in odd.text and "tool_calls" in odd.text
    assert "characters not shown" in odd.text  # the 300,000-character observation is cut
    for episode_id in ("odd/1", "odd/2"):
        assert _get(viewer, f"/episode?run=broken/odd-records&id={episode_id}").status_code == 200
    assert "1/1" not in _get(viewer, "/train?run=broken/metrics-only").text


@pytest.mark.parametrize("path", [
    "/run", "/run?run=", "/run?run=../../etc", "/run?run=%00", "/run?run=bench/doors-expert&page=-5",
    "/run?run=bench/doors-expert&page=99999", "/run?run=bench/doors-expert&page=1e9",
    "/run?run=bench/doors-expert&iteration=%3Cscript%3E", "/run?run=bench/doors-expert&outcome=%27%22",
    "/run?run=bench/doors-expert&q=" + "%5C" * 300, "/run?run=bench/doors-expert&q=%22%5Cu0000",
    "/episode", "/episode?run=bench/doors-expert", "/episode?run=bench/doors-expert&id=..%2F..%2Fconfig.json",
    "/train?run=train/doors-aem&iteration=abc", "/train?run=train/doors-aem&iteration=-1&group=%3Cx%3E",
    "/compare?a=nope&b=nope", "/compare?a=bench/doors-expert&b=bench/doors-random&task=%3Cscript%3E",
    "/static/../../etc/passwd", "/static/view.css%00", "/api/state", "/api/state?run=nope", "/nope",
    "/run?run=bench/doors-expert&run=train/doors-aem", "/" + "a" * 5000,
])
def test_hostile_urls_get_a_clear_answer(viewer: str, path: str) -> None:
    response = _get(viewer, path)
    if response.status_code >= 400 and response.headers["content-type"].startswith("text/html"):
        assert 'class="notice error"' in response.text


@pytest.mark.slow
def test_run_text_is_escaped_in_the_browser(viewer: str, browser, screenshot) -> None:
    for path in ("/", "/run?run=broken/hostile",
                 "/episode?run=broken/hostile&id=x%22%3E%3Cimg%20src%3Dx%20onerror%3D%22window.__pwned%3D2%22%3E"):
        browser.get(viewer + path)
        assert browser.execute_script("return window.__pwned === undefined"), path
        assert "viewer error" not in browser.title
    assert HOSTILE in browser.find_element("css selector", "pre.response").text
    browser.get(viewer + "/run?run=broken/corrupt")
    screenshot(browser, "run-malformed")


def test_cli_serves_and_refuses_a_missing_directory(runs_root: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["view", str(tmp_path / "missing")])
    assert result.exit_code == 2 and "no directory" in result.output
    empty = tmp_path / "empty"
    empty.mkdir()
    result = CliRunner().invoke(app, ["view", str(empty)])
    assert result.exit_code == 2 and "no run directories" in result.output
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "harness.cli", "view", str(runs_root), "--port", str(port)],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline, page = time.monotonic() + 90, None
        while time.monotonic() < deadline and page is None and proc.poll() is None:
            try:
                page = httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
            except httpx.TransportError:
                time.sleep(0.3)
        assert page is not None and "bench/doors-expert" in page, proc.poll()
    finally:
        proc.terminate()
        output = proc.communicate(timeout=30)[0]
    assert f"http://127.0.0.1:{port}/" in output
