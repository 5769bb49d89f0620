"""The Docker backend against a fake `docker` CLI (in CI), and against a real engine where `docker info` works."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from agent_envs.errors import SandboxError
from agent_envs.sandbox.docker import DockerSandbox, docker_available
from agent_envs.swebench.grading import grade
from agent_envs.swebench.spec import image_name

HERE = Path(__file__).parent


@pytest.fixture()
def fake_docker(tmp_path: Path, tiny_instance, tiny_template, monkeypatch: pytest.MonkeyPatch) -> tuple[str, Path]:
    # The "image" has the full history (like a stale third-party image): the sandbox must strip it.
    image = image_name(tiny_instance["instance_id"])
    image_repo = tmp_path / "image-testbed"
    subprocess.run(["git", "clone", "-q", tiny_instance["source_repo"], str(image_repo)], check=True)
    subprocess.run(["git", "-C", str(image_repo), "checkout", "-q", tiny_instance["base_commit"]], check=True)
    images = {image: {"template": str(image_repo), "ro_paths": tiny_template.ro_paths,
                      "path": tiny_template.path_prepend}}
    state = tmp_path / "docker-state"
    script = tmp_path / "docker"
    root = HERE.parent.parent
    script.write_text(f"#!/bin/sh\nPYTHONPATH={root} exec {sys.executable} {HERE / 'fake_docker.py'} \"$@\"\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("FAKE_DOCKER_STATE", str(state))
    monkeypatch.setenv("FAKE_DOCKER_IMAGES", json.dumps(images))
    return str(script), state


def calls(state: Path) -> list[list[str]]:
    return [json.loads(line) for line in (state / "calls.jsonl").read_text().splitlines()]


def test_container_lifecycle_contract(fake_docker, tiny_instance) -> None:
    docker, state = fake_docker
    box = DockerSandbox(image_name(tiny_instance["instance_id"]), docker=docker,
                        strip_history=tiny_instance["base_commit"], env={"MY_VAR": "42"})
    with box:
        log = box.exec("git log --all --oneline; git tag; git remote").output
        assert "future fix" not in log and "v0.2.0" not in log and "Add median" in log
        assert box.exec("echo $MY_VAR $PAGER; pwd").output.split() == ["42", "cat", "/testbed"]
        assert box.exec("echo kept > /tmp/f").exit_code == 0 and box.read_file("/tmp/f") == "kept\n"
        timed = box.exec("sleep 20", timeout=1)
        assert timed.timed_out and timed.exit_code == 124
        box.write_file("tinycalc/new.py", "X = 1\n")
        assert "tinycalc/new.py" in box.diff(tiny_instance["base_commit"])
    argv = calls(state)
    run = next(a for a in argv if a[0] == "run")
    assert run[:2] == ["run", "-d"] and "--network" in run and run[run.index("--network") + 1] == "none"
    assert run[run.index("-w") + 1] == "/testbed" and run[-2:] == ["sleep", "infinity"]
    execs = [a for a in argv if a[0] == "exec"]
    assert all(a[a.index("-w") + 1] == "/testbed" and "BASH_ENV=/root/.bashrc" in a for a in execs)
    assert "MY_VAR=42" in execs[0] and any("-i" in a for a in execs)
    assert argv[-1][:2] == ["rm", "-f"] and not any((state / "containers").iterdir())


def test_missing_image_is_a_sandbox_error(fake_docker) -> None:
    docker, _ = fake_docker
    with pytest.raises(SandboxError, match="cannot pull"):
        DockerSandbox("swebench/sweb.eval.x86_64.nope:latest", docker=docker).start()


@pytest.mark.slow
def test_grading_with_the_official_eval_script(fake_docker, tiny_instance) -> None:
    docker, state = fake_docker
    factory = lambda: DockerSandbox(image_name(tiny_instance["instance_id"]), docker=docker)  # noqa: E731
    gold = grade(tiny_instance, tiny_instance["patch"], factory, local=False)
    assert gold.resolved and gold.info()["p2p"] == "4/4", gold.log[-2000:]
    assert "conda activate testbed" in gold.log  # the unmodified official script ran
    none = grade(tiny_instance, "", factory, local=False)
    assert not none.resolved and none.info()["f2p"] == "0/1"
    assert not any((state / "containers").iterdir())


def test_env_docker_backend_with_fake_cli(fake_docker) -> None:
    import gymnasium as gym

    from agent_envs.swebench.actions import fence

    docker, _ = fake_docker
    env = gym.make("agent_envs/SWEBench-v0", backend="docker", docker=docker, expert=True)
    try:
        _, info = env.reset(seed=0)
        _, _, _, _, info = env.step(fence(info["expert_action"]))
        _, reward, terminated, _, info = env.step(fence("submit"))
        assert terminated and reward == 1.0 and info["grade"]["f2p"] == "1/1"
    finally:
        env.close()


@pytest.mark.docker
def test_real_docker_gold_and_empty(shared_data) -> None:
    if not docker_available():
        pytest.skip("no Docker engine on this machine (`docker info` failed)")
    from agent_envs.swebench.data import load_instances

    [inst] = load_instances(shared_data / "swebench", instance_ids=["pytest-dev__pytest-7490"])
    image = image_name(inst["instance_id"])
    if os.system(f"docker image inspect {image} >/dev/null 2>&1") != 0 and not os.environ.get("AEMGYM_DOCKER_PULL"):
        pytest.skip(f"image {image} not present (docker pull it, or set AEMGYM_DOCKER_PULL=1)")
    factory = lambda: DockerSandbox(image)  # noqa: E731
    assert grade(inst, inst["patch"], factory, local=False).resolved
    assert not grade(inst, "", factory, local=False).resolved
