"""One adversarial suite over both backends and both roles (agent sandbox, grading sandbox): every escape probe is
blocked and leaves the host untouched; fork bombs, memory bombs, output floods and huge files are contained and the
sandbox works afterwards. Resource probes run under small limits, so each costs little CPU."""

from __future__ import annotations

import hashlib
import re
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_envs.sandbox.base import Sandbox
from agent_envs.swebench.env import SWEBenchEnv
from tests.swebench.escape_probes import HostCanary, run_probes

KINDS = ["local-agent", "local-grading", "docker-agent", "docker-grading"]


def tree_digest(path: str | Path) -> str:
    out = subprocess.run(f"cd {path} && find . -type f -print0 | sort -z | xargs -0 sha1sum", shell=True,
                         capture_output=True, text=True, check=True).stdout
    return hashlib.sha1(out.encode()).hexdigest()


@pytest.fixture()
def new_box(request: pytest.FixtureRequest, swe_cache: Path, tiny_instance: dict[str, Any]) -> Callable[..., Sandbox]:
    """`new_box(kind, **limits)`: an unstarted sandbox of `kind` for the synthetic instance, as the env makes it."""
    def make(kind: str, **limits: Any) -> Sandbox:
        backend, role = kind.split("-")
        if backend == "docker":
            request.getfixturevalue("tiny_image")
        env = SWEBenchEnv(backend=backend, cache_dir=str(swe_cache), command_timeout=60)
        box = env.sandbox_factory(tiny_instance, agent=role == "agent")()
        for key, value in limits.items():
            setattr(box.limits, key, value)
        return box

    return make


@pytest.fixture(scope="module")
def canary() -> Iterator[HostCanary]:
    with HostCanary() as host:
        yield host


@pytest.mark.parametrize("kind", KINDS)
def test_escape_probes_are_blocked(kind: str, new_box, canary: HostCanary, tiny_template) -> None:
    before = tree_digest(tiny_template.repo_dir)
    with new_box(kind) as box:
        results = run_probes(box, template=tiny_template.repo_dir, **canary.kwargs())
        assert box.exec("echo still-works").output.strip() == "still-works"
    escaped = {name: detail for name, (verdict, detail) in results.items() if verdict != "BLOCKED"}
    assert not escaped, f"{kind}: {escaped}"
    assert canary.untouched() and tree_digest(tiny_template.repo_dir) == before


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_fork_bomb_is_contained(kind: str, new_box) -> None:
    bomb = f"bomb_{uuid.uuid4().hex[:8]}"  # its own name: a parallel worker's bomb is not this one
    with new_box(kind, max_pids=64, timeout_s=10) as box:
        result = box.exec(f"{bomb}() {{ {bomb} | {bomb} & }}; {bomb}; sleep 3; echo survived")
        assert "survived" in result.output or result.timed_out or "restarted" in result.note
        for _ in range(3):  # every later command works (nothing of the bomb holds the pids limit)
            assert box.exec("echo still-works").output.strip().startswith("still-works")
    assert subprocess.run(["pgrep", "-f", bomb], capture_output=True).stdout == b""


@pytest.mark.parametrize("kind", KINDS)
def test_killing_every_process_is_survived(kind: str, new_box) -> None:
    """`kill 1`, `pkill sleep`, `kill -9 -1`: whatever a command kills (in Docker: the init and the keep-alive, which
    stops the container), the next command runs with the files kept."""
    with new_box(kind) as box:
        assert box.exec("echo kept > mine").exit_code == 0
        for kill in ("kill -TERM 1", "pkill sleep", "kill -9 -1"):
            box.exec(f"{kill}; sleep 1")
            later = box.exec("cat mine")
            assert later.exit_code == 0 and later.output.startswith("kept"), (kill, later.output[-300:])


@pytest.mark.parametrize("kind", KINDS)
def test_memory_bomb_is_contained(kind: str, new_box) -> None:
    with new_box(kind, memory_mb=256) as box:
        result = box.exec("python -c \"x = bytearray(1 << 30); print('allocated')\"")
        assert result.exit_code != 0 and "allocated" not in result.output
        assert box.exec("echo still-works").output.strip() == "still-works"


@pytest.mark.parametrize("kind", KINDS)
def test_output_flood_is_cut(kind: str, new_box) -> None:
    with new_box(kind, max_output_bytes=4 << 20, head_chars=1000, tail_chars=1000) as box:
        result = box.exec("yes 0123456789 | head -c 1000000000")  # 1 GB asked, cut at 4 MB
        assert result.note.startswith("output limit") and result.truncated and len(result.output) < 5000
        assert result.output_chars <= (4 << 20) + (1 << 20)
        assert box.exec("echo still-works").output.strip() == "still-works"


@pytest.mark.parametrize("kind", KINDS)
def test_huge_file_is_cut(kind: str, new_box) -> None:
    with new_box(kind, max_file_mb=32) as box:
        result = box.exec("dd if=/dev/zero of=/testbed/big bs=1M count=10240 2>&1; echo size=$(stat -c %s big)")
        assert "File size limit exceeded" in result.output or "File too large" in result.output  # SIGXFSZ / EFBIG
        size = int(re.search(r"size=(\d+)", result.output).group(1))  # stdout and stderr may interleave
        assert 0 < size <= 32 << 20  # 10 GB asked, stopped at the 32 MB file limit
        assert box.exec("rm /testbed/big && echo still-works").output.strip() == "still-works"


@pytest.mark.parametrize("kind", KINDS)
def test_file_transfer_stays_inside(kind: str, new_box, canary: HostCanary) -> None:
    """Files moved in and out follow links only inside the sandbox, take any name, and cost the harness at most
    `max_output_bytes` of memory whatever the sandbox made of them (a huge eval log, a directory)."""
    try:
        host_shadow = hashlib.sha256(Path("/etc/shadow").read_bytes()).hexdigest()
    except OSError:
        host_shadow = "unreadable"
    with new_box(kind, max_output_bytes=1 << 20) as box:
        made = box.exec(f"ln -s /etc/shadow out && ln -s / root && ln -s {canary.file} canary && mkdir adir && "
                        "head -c 3000000 /dev/zero > big && echo made")
        assert made.output.strip() == "made", made.output
        for path in ("out", "root/etc/shadow", "/proc/1/root/etc/shadow"):
            try:
                text = box.read_file(path)
            except FileNotFoundError:
                continue
            assert hashlib.sha256(text.encode()).hexdigest() != host_shadow, f"{path}: the host's /etc/shadow"
        box.write_file("canary", "overwritten\n")  # through a link to the host canary's path
        box.write_file(f"root{canary.file}", "overwritten\n")
        for name in ("$(touch pwned)", "-rf", "new\nline", "../../../tmp/up", "sp ace/'q\"", ";touch pwned;"):
            box.write_file(name, "hi\n")
            assert box.read_file(name) == "hi\n", name
        assert box.exec("test -e pwned || echo clean").output.strip() == "clean"
        with pytest.raises(FileNotFoundError, match="output limit"):
            box.read_file("big")
        with pytest.raises(FileNotFoundError):
            box.read_file("adir")
    assert canary.untouched()
