"""Every page of the viewer in a real headless Chromium, for a bench run, a training run and a SWE-bench run made
by the harness; filters, search, permalinks, compare, and a run that grows while its page is open. A screenshot of
each page is written as a test artifact (copied to runs/view-screenshots/)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from harness.storage import read_episodes

pytestmark = pytest.mark.slow

EXPERT, RANDOM, TRAIN, SWE = "bench/doors-expert", "bench/doors-random", "train/doors-aem", "bench/swe-scripted"


def _css(driver, selector: str) -> list:
    return driver.find_elements(By.CSS_SELECTOR, selector)


def _open(driver, viewer: str, path: str) -> None:
    driver.get(viewer + path)
    assert "viewer error" not in driver.title and "not found" not in driver.title, driver.title
    assert not _css(driver, ".notice.error"), _css(driver, ".notice.error")[0].text


def _follow(driver, element, url_part: str) -> None:
    """Click `element` and wait until the page it leads to has loaded: the URL changes before the new document
    replaces the old one, and elements read in between go stale."""
    old = driver.find_element(By.TAG_NAME, "html")

    def replaced(d) -> bool:
        try:
            old.is_enabled()
            return False
        except StaleElementReferenceException:
            return url_part in d.current_url and d.execute_script("return document.readyState") == "complete"

    element.click()
    WebDriverWait(driver, 20).until(replaced)


def _rows(driver, table_id: str) -> list:
    return _css(driver, f"#{table_id} tbody tr")


def test_runs_page(viewer, browser, screenshot) -> None:
    _open(browser, viewer, "/")
    rows = {r.find_element(By.CSS_SELECTOR, "td a").text: r.text for r in _rows(browser, "runs")}
    assert "100.0%" in rows[EXPERT] and "doors" in rows[EXPERT] and "expert" in rows[EXPERT]
    assert "training" in rows[TRAIN] and "evaluation at iteration 2" in rows[TRAIN]
    assert "100.0%" in rows[SWE] and "swebench" in rows[SWE]
    screenshot(browser, "runs")


@pytest.mark.parametrize(("name", "run"), [("run-bench", EXPERT), ("run-train", TRAIN), ("run-swebench", SWE)])
def test_run_page(viewer, browser, screenshot, runs_root: Path, name: str, run: str) -> None:
    _open(browser, viewer, f"/run?run={quote(run)}")
    episodes = read_episodes(runs_root / run)
    report = [r.text for r in _rows(browser, "report")]
    assert report[0].startswith("all"), report
    if run != TRAIN:  # a training run's report is about its last evaluation
        assert f"all {len(episodes)} " in report[0]
        assert len(_rows(browser, "episodes")) == len(episodes)
    assert _css(browser, "svg.chart rect.bar")
    screenshot(browser, name)


def test_bench_episode_page(viewer, browser, screenshot, runs_root: Path) -> None:
    episode = read_episodes(runs_root / EXPERT)[0]
    _open(browser, viewer, f"/episode?run={EXPERT}&id={quote(episode.episode_id)}")
    turns = _css(browser, "section.turn")
    assert len(turns) == len(episode.turns)
    assert all("valid" in t.find_element(By.CSS_SELECTOR, ".turn-head").text for t in turns)
    action = episode.turns[0].response.text.removeprefix("<action>").removesuffix("</action>")
    assert f"action: {action} (as the env parsed it)" in turns[0].text  # the env records what it parsed
    assert _css(browser, "#turn-0 details.prompt")
    screenshot(browser, "episode-bench")


def test_training_episode_page_has_heat_map_and_alpha(viewer, browser, screenshot, runs_root: Path) -> None:
    episode = next(e for e in read_episodes(runs_root / TRAIN) if e.phase == "train")
    _open(browser, viewer, f"/episode?run={TRAIN}&id={quote(episode.episode_id)}")
    tokens = _css(browser, ".heat .tok")
    assert len(tokens) == sum(len(t.response.token_ids or []) for t in episode.turns) > 0
    assert "log-prob" in tokens[0].get_attribute("title")
    assert len(_css(browser, ".turn-head .alpha")) == len(episode.turns)
    screenshot(browser, "episode-train")


def test_swebench_episode_page_has_diff_and_grade(viewer, browser, screenshot) -> None:
    _open(browser, viewer, f"/episode?run={SWE}&id=aemgym__tinycalc-1/0")
    added = " ".join(e.text for e in _css(browser, "pre.diff span.add"))
    assert "ordered[m - 1] + ordered[m]" in added
    grade = browser.find_element(By.ID, "grade").text
    assert "resolved true" in grade and "FAIL_TO_PASS 1/1" in grade
    screenshot(browser, "episode-swebench")


def test_training_page(viewer, browser, screenshot, runs_root: Path) -> None:
    _open(browser, viewer, f"/train?run={TRAIN}")
    assert len(_css(browser, "#curves svg.chart")) >= 5
    assert len(_rows(browser, "alpha-table")) == 2  # one row per iteration
    rows = _rows(browser, "group")
    advantages = [json.loads(line) for line in (runs_root / TRAIN / "advantages.jsonl").read_text().splitlines()]
    assert advantages[-1]["iteration"] == 2 and 0 < len(rows) <= len(advantages[-1]["alpha"])
    assert all(len(r.find_elements(By.CSS_SELECTOR, "td")) == 6 for r in rows)
    Select(browser.find_element(By.NAME, "group")).select_by_index(0)
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "form.inline button"), "group=")
    assert _rows(browser, "group")
    screenshot(browser, "train")


def test_filters_search_and_permalinks(viewer, browser, runs_root: Path) -> None:
    episodes = read_episodes(runs_root / RANDOM)
    failures = [e for e in episodes if not e.success]
    _open(browser, viewer, f"/run?run={RANDOM}")
    Select(browser.find_element(By.NAME, "outcome")).select_by_value("failure")
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "#filters button"), "outcome=failure")
    assert browser.find_element(By.ID, "match-count").text.startswith(f"{len(failures)} of {len(episodes)}")
    assert {b.text for b in _css(browser, "#episodes .badge")} <= {"failure"}
    permalink = browser.current_url
    kind = episodes[0].task_type
    Select(browser.find_element(By.NAME, "type")).select_by_value(kind)
    needle = "<action>" + episodes[0].turns[0].response.text.split("<action>")[1][:1]
    box = browser.find_element(By.NAME, "q")
    box.clear()
    box.send_keys(needle)
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "#filters button"), "q=")
    expected = [e for e in failures if e.task_type == kind
                and any(needle.lower() in t.response.text.lower() for t in e.turns)]
    assert browser.find_element(By.ID, "match-count").text.startswith(f"{len(expected)} of")
    shown = [r.find_element(By.CSS_SELECTOR, "td a").text for r in _rows(browser, "episodes")]
    assert shown == [e.episode_id for e in expected]
    browser.get(permalink)  # the first filter's URL shows the first filter's view
    assert browser.find_element(By.ID, "match-count").text.startswith(f"{len(failures)} of")


def test_compare_from_the_runs_page(viewer, browser, screenshot, runs_root: Path) -> None:
    _open(browser, viewer, "/")
    Select(browser.find_element(By.NAME, "a")).select_by_value(EXPERT)
    Select(browser.find_element(By.NAME, "b")).select_by_value(RANDOM)
    _follow(browser, browser.find_element(By.CSS_SELECTOR, "form.inline button"), "/compare")
    tasks = {e.task_id for e in read_episodes(runs_root / EXPERT)}
    assert len(_rows(browser, "tasks")) == len(tasks)
    screenshot(browser, "compare")
    _follow(browser, _rows(browser, "tasks")[0].find_element(By.CSS_SELECTOR, "td a"), "task=")
    sides = _css(browser, ".side")
    assert len(sides) == 2 and all(s.find_elements(By.CSS_SELECTOR, "table.compact tbody tr") for s in sides)
    assert sides[0].text.startswith(f"A: {EXPERT}") and sides[1].text.startswith(f"B: {RANDOM}")
    screenshot(browser, "compare-task")


def test_a_run_in_progress_updates(runs_root: Path, tmp_path: Path, browser) -> None:
    from harness.serve.runner import BackgroundServer
    from harness.view.app import create_app

    run = tmp_path / "live"
    shutil.copytree(runs_root / EXPERT, run)
    (run / "summary.json").unlink()
    episodes = run / "episodes.jsonl"
    lines = episodes.read_text().splitlines()
    episodes.write_text("\n".join(lines[:-1]) + "\n")
    with BackgroundServer(create_app([run])) as server:
        base = f"http://{server.host}:{server.port}"
        browser.get(f"{base}/run?run=live")
        assert len(_rows(browser, "episodes")) == len(lines) - 1
        with episodes.open("a") as handle:
            handle.write(lines[-1] + "\n")
        link = WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.ID, "live-reload"))[0]
        assert link.text.startswith("1 new episode")
        link.click()
        WebDriverWait(browser, 20).until(lambda d: len(_rows(d, "episodes")) == len(lines))
