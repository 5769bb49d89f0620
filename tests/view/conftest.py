"""Fixtures of the viewer tests: runs made by the real harness (Doors benches with the expert and the random policy,
a 2-iteration AEM training run, a SWE-bench run on the synthetic instance), malformed and hostile run directories,
the viewer on a free local port, and a real headless Chromium."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT

TRAIN_CONFIG = REPO_ROOT / "harness" / "train" / "configs" / "doors_tiny.yaml"
#: Screenshots are copied here (runs/ is not tracked) so they outlive pytest's temporary directories.
SCREENSHOTS = REPO_ROOT / "runs" / "view-screenshots"
#: A fix of the synthetic SWE-bench instance's bug (median of even-length inputs), typed as an agent would.
SWE_FIX = ("python - <<'EOF'\nimport pathlib\np = pathlib.Path('tinycalc/stats.py')\n"
           "s = p.read_text().replace('    return ordered[len(ordered) // 2]\\n', "
           "'    m = len(ordered) // 2\\n    return ordered[m] if len(ordered) % 2 else "
           "(ordered[m - 1] + ordered[m]) / 2\\n')\np.write_text(s)\nEOF")
HOSTILE = "<script>window.__pwned=1</script>"


def _bench(out: Path, *overrides: str, args: dict[str, Any] | None = None) -> Path:
    from harness.bench import run_bench
    from harness.config import BenchConfig, load_config

    config = load_config(BenchConfig, [*overrides, f"output.dir={out}"])
    if args:
        config.policy.args = args
    return run_bench(config, progress=False)[2]


def _train(out: Path) -> Path:
    from harness.config import TrainConfig, load_config
    from harness.train.loop import Trainer

    config = load_config(TrainConfig, [str(TRAIN_CONFIG), "loop.iterations=2", "loop.tasks_per_iter=2",
                                       "rollout.samples=4", "loop.eval_every=2", "loop.eval_tasks=4",
                                       "loop.checkpoint_every=0", "learner.modulator=aem", "learner.aem_min_range=0",
                                       f"output.dir={out}"])
    Trainer(config, progress=False).run()
    return out


def _swebench(out: Path, cache: Path) -> Path:
    from agent_envs.swebench.actions import fence

    for tool in ("bwrap", "git"):
        if shutil.which(tool) is None:
            pytest.fail(f"`{tool}` is missing: run scripts/install/40-swebench.sh")
    previous = os.environ.get("AEMGYM_SWEBENCH_CACHE")
    os.environ["AEMGYM_SWEBENCH_CACHE"] = str(cache)  # never the user's ~/.cache
    try:
        replies = [fence("grep -n 'def median' -A4 tinycalc/stats.py"), fence(SWE_FIX), fence("submit")]
        return _bench(out, "env.id=swebench", "policy.name=scripted", "env.n_tasks=1", args={"replies": replies})
    finally:
        if previous is None:
            os.environ.pop("AEMGYM_SWEBENCH_CACHE", None)
        else:
            os.environ["AEMGYM_SWEBENCH_CACHE"] = previous


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines()


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def make_malformed(root: Path, good: Path) -> None:
    """Run directories with what a crash, an old version or a hostile model leaves behind."""
    config, lines = (good / "config.json").read_text(), _lines(good / "episodes.jsonl")
    _write(root / "torn" / "config.json", config)
    _write(root / "torn" / "episodes.jsonl", "\n".join(lines[:3]) + "\n" + lines[3][: len(lines[3]) // 2])
    _write(root / "corrupt" / "config.json", config)
    _write(root / "corrupt" / "episodes.jsonl",
           "\n".join([lines[0], "{not json", lines[1], "[1, 2]", '{"no_episode_id": 1}', lines[2]]) + "\n")
    _write(root / "no-config" / "episodes.jsonl", "\n".join(lines[:2]) + "\n")
    _write(root / "bad-config" / "config.json", "{oops")
    _write(root / "bad-config" / "episodes.jsonl", "\n".join(lines[:2]) + "\n")
    flat = {"env_id": "agent_envs/Doors-v0", "policy": "expert", "split": "test", "samples_per_task": 2,
            "task_ids": ["doors-test-0"]}
    _write(root / "flat-config" / "config.json", json.dumps(flat))
    _write(root / "flat-config" / "episodes.jsonl", "\n".join(lines[:2]) + "\n")
    _write(root / "empty" / "config.json", config)
    _write(root / "bad-summary" / "config.json", config)
    _write(root / "bad-summary" / "episodes.jsonl", lines[0] + "\n")
    _write(root / "bad-summary" / "summary.json", "[")
    _write(root / "odd-summary" / "config.json", config)
    _write(root / "odd-summary" / "episodes.jsonl", lines[0] + "\n")
    _write(root / "odd-summary" / "summary.json", json.dumps({"tokens": {"prompt": "lots"}, "latency_s": [1]}))
    odd = json.loads(lines[0])
    odd.update({"schema_version": 3, "episode_id": "odd/0", "brand_new_field": {"x": 1}})
    odd["turns"][0].update({"surprise": [1, 2, 3], "messages": "not a list", "info": ["not", "a", "dict"]})
    odd["turns"][0]["response"].update({"tool_calls": [{"name": "open"}], "logprobs": ["x", None, -0.5, 1e6, -1e6],
                                        "token_ids": [1, "two"]})
    odd["turns"][-1]["observation"] = "y" * 300_000
    weird = {"episode_id": "odd/1", "turns": "not a list", "success": "yes", "score": "high", "status": 7}
    nulls = {"episode_id": "odd/2", "turns": [{"step": 0, "response": None, "info": None}, None, 3]}
    _write(root / "odd-records" / "config.json", config)
    _write(root / "odd-records" / "episodes.jsonl", "\n".join(json.dumps(r) for r in (odd, weird, nulls)) + "\n")
    hostile = json.loads(lines[0])
    hostile.update({"episode_id": 'x"><img src=x onerror="window.__pwned=2">', "task_id": HOSTILE,
                    "task_type": "<b onmouseover=alert(1)>type</b>", "error": HOSTILE, "status": "error"})
    hostile["turns"][0]["response"]["text"] = f"{HOSTILE}</pre><img src=x onerror='window.__pwned=3'>"
    hostile["turns"][0]["observation"] = "</pre></details><script>window.__pwned=4</script>"
    hostile["turns"][0]["info"][HOSTILE] = HOSTILE
    header = json.loads(config)
    header["config"]["env"]["id"] = HOSTILE
    header["config"]["policy"]["name"] = '"><script>window.__pwned=5</script>'
    _write(root / "hostile" / "config.json", json.dumps(header))
    _write(root / "hostile" / "episodes.jsonl", json.dumps(hostile) + "\n")
    train_header = {"schema_version": 2, "command": "train", "config": {"env": {"id": "agent_envs/Doors-v0"}}}
    _write(root / "metrics-only" / "config.json", json.dumps(train_header))
    _write(root / "metrics-only" / "metrics.jsonl", '{"iteration": 1, "train/success": 0.5}\n{"iteration": 2, "tr')
    _write(root / "metrics-only" / "advantages.jsonl",
           '{"iteration": 1, "episode_id": ["a", "b"], "turn": [0], "alpha": [1.2, "x"], "advantage": []}\n')


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory of runs: bench/doors-expert, bench/doors-random, bench/swe-scripted, train/doors-aem, broken/*."""
    root = tmp_path_factory.mktemp("view-runs")
    doors = ["env.id=doors", "env.n_tasks=4", "rollout.samples=2", "env.kwargs={dark_fraction: 0.5}"]
    _bench(root / "bench" / "doors-expert", *doors, "policy.name=expert")
    _bench(root / "bench" / "doors-random", *doors, "policy.name=random")
    _train(root / "train" / "doors-aem")
    _swebench(root / "bench" / "swe-scripted", tmp_path_factory.mktemp("swebench-cache"))
    make_malformed(root / "broken", root / "bench" / "doors-expert")
    return root


@pytest.fixture(scope="session")
def viewer(runs_root: Path) -> Iterator[str]:
    """The viewer over `runs_root` on a free local port; yields its base URL."""
    from harness.serve.runner import BackgroundServer
    from harness.view.app import create_app

    with BackgroundServer(create_app([runs_root])) as server:
        yield f"http://{server.host}:{server.port}"


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium driven by Selenium (the WebShop browser env's setup)."""
    from agent_envs.webshop.browser_env import CHROME_FLAGS, CHROMEDRIVER, CHROMIUM, browser_available

    reason = browser_available()
    if reason:
        pytest.fail(f"no browser for the viewer tests: {reason}", pytrace=False)
    os.environ.setdefault("SE_OFFLINE", "true")
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    profile = tempfile.mkdtemp(prefix="aemgym-view-chromium-")
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="session")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`screenshot(driver, name)`: the whole page as a PNG test artifact (also copied to runs/view-screenshots/)."""
    folder = tmp_path_factory.mktemp("view-screenshots")

    def take(driver: Any, name: str) -> Path:
        height = int(driver.execute_script("return document.documentElement.scrollHeight"))
        driver.set_window_size(1400, min(max(height + 120, 700), 4000))
        path = folder / f"{name}.png"
        assert driver.save_screenshot(str(path)), f"no screenshot of {name}"
        driver.set_window_size(1400, 1000)
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOTS / path.name)
        print(f"screenshot: {SCREENSHOTS / path.name}")
        return path

    return take
