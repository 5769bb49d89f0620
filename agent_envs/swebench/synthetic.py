"""A tiny synthetic SWE-bench instance, built on demand: the embedded default task of `agent_envs/SWEBench-v0`.

`aemgym/tinycalc` is a real git repository (fixed dates, so commit ids are reproducible) with three commits: the
initial package, the base commit that introduces a bug in `median` (even-length inputs), and a *later* commit that
fixes it. The later commit exists on purpose: the sandbox must not let the agent see it. The instance has the usual
fields (gold `patch`, `test_patch`, FAIL_TO_PASS / PASS_TO_PASS as JSON strings), so it runs through the same spec,
sandbox and grading code as a real instance; its repo spec is registered with swebench's tables at load time.

For the Docker backend, `build_docker_image` makes its instance image offline from the base image that
`scripts/install/45-docker.sh` imports (Debian minbase + git, patch, python3-pytest and a stand-in conda): the
repository at the base commit *with* its full history, like a stale third-party image, so the sandbox must strip it.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

REPO = "aemgym/tinycalc"
VERSION = "0.1"
INSTANCE_ID = "aemgym__tinycalc-1"
#: `python: "host"` = run the tests with the interpreter environment running this code (no venv, no download).
BASE_IMAGE = os.environ.get("AEMGYM_DOCKER_BASE_IMAGE", "aemgym/swe-base:bookworm")
SPEC = {"python": "host", "test_cmd": "PYTEST_DISABLE_PLUGIN_AUTOLOAD=1 pytest -rA -p no:cacheprovider"}

_STATS_V1 = '''"""Small statistics helpers."""


def mean(values):
    """Arithmetic mean of a non-empty sequence."""
    return sum(values) / len(values)


def clamp(value, low, high):
    """`value` limited to the closed interval [low, high]."""
    return max(low, min(high, value))
'''
_MEDIAN_BUGGY = '''

def median(values):
    """Median of a non-empty sequence."""
    ordered = sorted(values)
    return ordered[len(ordered) // 2]
'''
_MEDIAN_FIXED = '''

def median(values):
    """Median of a non-empty sequence."""
    ordered = sorted(values)
    middle = len(ordered) // 2
    if len(ordered) % 2 == 0:
        return (ordered[middle - 1] + ordered[middle]) / 2
    return ordered[middle]
'''
_TESTS = '''from tinycalc.stats import clamp, mean, median


def test_mean_basic():
    assert mean([1, 2, 3, 4]) == 2.5


def test_clamp_low():
    assert clamp(-5, 0, 10) == 0


def test_clamp_high():
    assert clamp(50, 0, 10) == 10


def test_median_odd():
    assert median([3, 1, 2]) == 2
'''
_NEW_TEST = '''

def test_median_even():
    assert median([4, 1, 3, 2]) == 2.5
'''
PROBLEM = """median() gives the wrong answer for lists with an even number of items

```python
>>> from tinycalc.stats import median
>>> median([4, 1, 3, 2])
3
```

The median of an even-length list is the mean of the two middle values, so this should be `2.5`.
Odd-length lists are fine.
"""


def _git(repo: Path, *args: str, date: str = "2024-01-01T00:00:00+00:00") -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "AEM Gym", "GIT_AUTHOR_EMAIL": "gym@example.org",
           "GIT_COMMITTER_NAME": "AEM Gym", "GIT_COMMITTER_EMAIL": "gym@example.org",
           "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_CONFIG_GLOBAL": "/dev/null"}
    out = subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True, env=env)
    return out.stdout.strip()


def _commit(repo: Path, files: dict[str, str], message: str, date: str) -> str:
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", message, date=date)
    return _git(repo, "rev-parse", "HEAD")


def _diff(repo: Path, a: str, b: str, *paths: str) -> str:
    return _git(repo, "diff", a, b, "--", *paths) + "\n"


def build_source_repo(dest: Path) -> Path:
    """Create the tinycalc repository (with its future-fix commit) at `dest`, once. Returns `dest`."""
    if (dest / ".git").is_dir() and (dest / ".aemgym-complete").exists():
        return dest
    if dest.exists():
        subprocess.run(["rm", "-rf", str(dest)], check=True)
    dest.mkdir(parents=True)
    _git(dest, "init", "-q", "-b", "main")
    files = {"README.md": "# tinycalc\n", ".gitignore": "__pycache__/\n*.pyc\n", "tinycalc/__init__.py": "",
             "tinycalc/stats.py": _STATS_V1, "tests/__init__.py": "", "tests/test_stats.py": _TESTS}
    _commit(dest, files, "Initial tinycalc", "2024-01-01T00:00:00Z")
    _git(dest, "tag", "v0.1.0")
    _commit(dest, {"tinycalc/stats.py": _STATS_V1 + _MEDIAN_BUGGY}, "Add median", "2024-02-01T00:00:00Z")
    _commit(dest, {"tinycalc/stats.py": _STATS_V1 + _MEDIAN_FIXED, "tests/test_stats.py": _TESTS + _NEW_TEST},
            "Fix median for even-length input (the future fix)", "2024-03-01T00:00:00Z")
    _git(dest, "tag", "v0.2.0")
    (dest / ".git" / "info" / "exclude").write_text(".aemgym-complete\n")
    (dest / ".aemgym-complete").write_text("")
    return dest


def tinycalc_instance(source: Path) -> dict[str, Any]:
    """The SWE-bench-format instance for a tinycalc repository built by `build_source_repo`."""
    base = _git(source, "rev-parse", "HEAD~1")
    fix = _git(source, "rev-parse", "HEAD")
    return {
        "instance_id": INSTANCE_ID,
        "repo": REPO,
        "base_commit": base,
        "patch": _diff(source, base, fix, "tinycalc"),
        "test_patch": _diff(source, base, fix, "tests"),
        "problem_statement": PROBLEM,
        "hints_text": "",
        "created_at": "2024-02-15T00:00:00Z",
        "version": VERSION,
        "FAIL_TO_PASS": json.dumps(["tests/test_stats.py::test_median_even"]),
        "PASS_TO_PASS": json.dumps([f"tests/test_stats.py::{t}" for t in
                                    ("test_mean_basic", "test_clamp_low", "test_clamp_high", "test_median_odd")]),
        "environment_setup_commit": base,
        "difficulty": "<15 min fix",
        "source_repo": str(source),
    }


def register_spec() -> None:
    """Register tinycalc's spec and pytest log parser with swebench's tables."""
    from agent_envs.swebench.spec import register_repo

    register_repo(REPO, {VERSION: SPEC})


def build_docker_image(client: Any, instance: dict[str, Any], image: str, base_image: str = BASE_IMAGE) -> str:
    """Commit `image`: `base_image` plus `/testbed`, a full clone of the instance's source checked out at its base
    commit (owned by the image's root). Returns the image id. Raises `docker.errors.ImageNotFound` without a base.
    """
    client.images.get(base_image)
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "testbed"
        subprocess.run(["git", "clone", "-q", instance["source_repo"], str(repo)], check=True)
        _git(repo, "checkout", "-q", instance["base_commit"])
        payload = io.BytesIO()
        with tarfile.open(fileobj=payload, mode="w") as tar:
            tar.add(repo, arcname="testbed", filter=lambda info: _as_root(info))
    container = client.containers.create(base_image, ["true"])
    try:
        container.put_archive("/", payload.getvalue())
        repository, _, tag = image.rpartition(":")
        committed = container.commit(repository, tag, changes=["WORKDIR /testbed"],
                                     conf={"Labels": {"aemgym.synthetic": INSTANCE_ID}})
    finally:
        container.remove(force=True)
    return committed.id


def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info
