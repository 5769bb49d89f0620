"""The Docker backend (docker SDK) against a fake Engine API server on a unix socket (in CI), and against a real
engine where `docker info` works."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_envs.errors import EnvUnavailable, SandboxError
from agent_envs.sandbox.base import SandboxLimits
from agent_envs.sandbox.docker import DockerSandbox, docker_available
from agent_envs.swebench.grading import grade
from agent_envs.swebench.spec import image_name
from tests.swebench.fake_docker_engine import FakeDockerEngine, FakeImage


@pytest.fixture()
def engine(tmp_path: Path, tiny_instance, tiny_template) -> Iterator[FakeDockerEngine]:
    # The "image" has the full history (like a stale third-party image): the sandbox must strip it.
    image_repo = tmp_path / "image-testbed"
    subprocess.run(["git", "clone", "-q", tiny_instance["source_repo"], str(image_repo)], check=True)
    subprocess.run(["git", "-C", str(image_repo), "checkout", "-q", tiny_instance["base_commit"]], check=True)
    image = FakeImage(str(image_repo), list(tiny_template.ro_paths), list(tiny_template.path_prepend))
    with FakeDockerEngine(tmp_path / "engine", {image_name(tiny_instance["instance_id"]): image}) as fake:
        yield fake


def exec_bodies(engine: FakeDockerEngine) -> list[dict]:
    return [body for m, path, _, body in engine.calls if m == "POST" and path.endswith("/exec")]


def test_official_image_name() -> None:
    assert image_name("pytest-dev__pytest-7490") == "swebench/sweb.eval.x86_64.pytest-dev_1776_pytest-7490:latest"
    assert image_name("Django__Django-1", "my__ns") == "my__ns/sweb.eval.x86_64.django_1776_django-1:latest"


def test_container_lifecycle_contract(engine: FakeDockerEngine, tiny_instance) -> None:
    image = image_name(tiny_instance["instance_id"])
    box = DockerSandbox(image, base_url=engine.url, strip_history=tiny_instance["base_commit"], env={"MY_VAR": "42"},
                        limits=SandboxLimits(timeout_s=30, max_output_bytes=1 << 20, memory_mb=2048, max_pids=64))
    with box:
        [container] = engine.containers.values()
        log = box.exec("git log --all --oneline; git tag; git remote").output
        assert "future fix" not in log and "v0.2.0" not in log and "Add median" in log
        assert box.exec("echo $MY_VAR $PAGER; pwd").output.split() == ["42", "cat", "/testbed"]
        both = box.exec("echo to-stdout; echo to-stderr >&2; exit 3")  # demuxed streams, both kept
        assert both.exit_code == 3 and "to-stdout" in both.output and "to-stderr" in both.output
        assert box.exec("echo kept > /tmp/f").exit_code == 0 and box.read_file("/tmp/f") == "kept\n"
        assert (container.dir / "tmp" / "f").read_text() == "kept\n"  # the file really is in the container
        assert box.exec("cat; echo", stdin=b"piped in").output == "piped in\n"
        timed = box.exec("sleep 20", timeout=1)
        assert timed.timed_out and timed.exit_code == 124 and "timed out after 1 s" in timed.output
        long = box.exec("head -c 30000 /dev/zero | tr '\\0' x")
        assert long.truncated and long.output_chars == 30000 and "output elided" in long.output
        assert len(long.output) < 10_200 and long.output.startswith("x" * 100)
        flood = box.exec("yes")  # killed at max_output_bytes, well before its 30 s timeout
        assert flood.note.startswith("output limit") and not flood.timed_out and flood.exit_code != 0
        tag = f"aemgym-held-{uuid.uuid4().hex}"
        held = box.exec(f"(exec -a {tag} sleep 300 &); echo started")  # a background job keeps the stream open
        assert held.exit_code == 0 and held.output == "started\n" and not held.timed_out
        assert not _host_processes_named(tag)  # killed with the exec (the fake has no pid namespace)
        box.write_file("tinycalc/new.py", "X = 1\n")
        box.write_file("deep/er/notes.txt", "hi\n")
        assert box.read_file("tinycalc/new.py") == "X = 1\n" and box.read_file("/testbed/deep/er/notes.txt") == "hi\n"
        with pytest.raises(FileNotFoundError):
            box.read_file("no/such/file")
        patch = box.diff(tiny_instance["base_commit"])
        assert "tinycalc/new.py" in patch and "deep/er/notes.txt" in patch
    create = next(body for m, path, _, body in engine.calls if path == "/containers/create")
    assert create["Image"] == image and create["Cmd"] == ["sleep", "infinity"] and create["WorkingDir"] == "/testbed"
    host = create["HostConfig"]
    assert host["NetworkMode"] == "none" and host["PidsLimit"] == 64 and host["Memory"] == 2048 << 20
    execs = exec_bodies(engine)
    commands = [b for b in execs if b["Cmd"][:2] == ["timeout", "-k"]]
    assert all(b["WorkingDir"] == "/testbed" and "BASH_ENV=/root/.bashrc" in b["Env"] and "MY_VAR=42" in b["Env"]
               for b in commands)
    assert any("AEMGYM_EXEC_ID=" in b["Cmd"][-1] for b in execs if b["Cmd"][:2] == ["bash", "-c"])  # the killer
    gets, puts = engine.paths("GET"), engine.paths("PUT")
    assert "/version" in gets and any(p.endswith("/archive") for p in gets)
    assert any(p.endswith("/archive") for p in puts)
    method, path, query, _ = engine.calls[-1]
    assert method == "DELETE" and query.get("force") == ["True"] and not engine.containers
    assert not container.dir.exists()


def _host_processes_named(name: str) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "cmdline").read_bytes().split(b"\0")[0] == name.encode():
                found.append(int(proc.name))
        except OSError:
            pass
    return found


def test_images_and_engine_errors(engine: FakeDockerEngine, tmp_path: Path) -> None:
    assert docker_available(engine.url) and not docker_available(f"unix://{tmp_path}/none.sock")
    with pytest.raises(SandboxError, match="cannot pull"):
        DockerSandbox("swebench/sweb.eval.x86_64.nope:latest", base_url=engine.url).start()
    assert any(p == "/images/create" for p in engine.paths("POST"))
    with pytest.raises(SandboxError, match="not present"):
        DockerSandbox("swebench/sweb.eval.x86_64.nope:latest", base_url=engine.url, pull=False).start()
    with pytest.raises(EnvUnavailable, match="no Docker engine"):
        DockerSandbox("any", base_url=f"unix://{tmp_path}/none.sock").start()
    assert not engine.containers


@pytest.mark.slow
def test_grading_with_the_official_eval_script(engine: FakeDockerEngine, tiny_instance) -> None:
    factory = lambda: DockerSandbox(image_name(tiny_instance["instance_id"]), base_url=engine.url)  # noqa: E731
    gold = grade(tiny_instance, tiny_instance["patch"], factory, local=False)
    assert gold.resolved and gold.info()["p2p"] == "4/4", gold.log[-2000:]
    assert "conda activate testbed" in gold.log  # the unmodified official script ran
    none = grade(tiny_instance, "", factory, local=False)
    assert not none.resolved and none.info()["f2p"] == "0/1"
    assert not engine.containers and not any((engine.root / "containers").iterdir())


def test_env_docker_backend_with_fake_engine(engine: FakeDockerEngine) -> None:
    import gymnasium as gym

    from agent_envs.swebench.actions import fence

    env = gym.make("agent_envs/SWEBench-v0", backend="docker", docker_url=engine.url, expert=True)
    try:
        _, info = env.reset(seed=0)
        _, _, _, _, info = env.step(fence(info["expert_action"]))
        _, reward, terminated, _, info = env.step(fence("submit"))
        assert terminated and reward == 1.0 and info["grade"]["f2p"] == "1/1"
    finally:
        env.close()
    assert not engine.containers


@pytest.mark.docker
def test_real_docker_gold_and_empty(shared_data) -> None:
    if not docker_available():
        pytest.skip("no Docker engine on this machine (`docker info` through the SDK failed)")
    import os

    from agent_envs.sandbox.docker import docker_client
    from agent_envs.swebench.data import load_instances

    [inst] = load_instances(shared_data / "swebench", instance_ids=["pytest-dev__pytest-7490"])
    image = image_name(inst["instance_id"])
    client = docker_client()
    try:
        present = bool(client.images.list(name=image.rsplit(":", 1)[0]))
    finally:
        client.close()
    if not present and not os.environ.get("AEMGYM_DOCKER_PULL"):
        pytest.skip(f"image {image} not present (docker pull it, or set AEMGYM_DOCKER_PULL=1)")
    factory = lambda: DockerSandbox(image)  # noqa: E731
    with DockerSandbox(image, strip_history=inst["base_commit"]) as agent:  # no commit outside the base's ancestry
        assert agent.exec("git rev-parse HEAD").output.strip() == inst["base_commit"]
        assert agent.exec("git rev-list --all | wc -l").output == agent.exec("git rev-list HEAD | wc -l").output
    assert grade(inst, inst["patch"], factory, local=False).resolved
    assert not grade(inst, "", factory, local=False).resolved
