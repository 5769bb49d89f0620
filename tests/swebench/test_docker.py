"""The Docker backend on a real engine (tests/swebench/conftest.py starts one where none runs): the hardened
container, lifecycle, limits, file transfer, history stripping, recovery from a full pids limit, leftovers removed by
`gc`, and grading with the unmodified official eval script."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from agent_envs.errors import EnvUnavailable, SandboxError
from agent_envs.sandbox import gc
from agent_envs.sandbox.base import SandboxLimits
from agent_envs.sandbox.docker import DockerSandbox, docker_available
from agent_envs.swebench.grading import grade
from agent_envs.swebench.spec import image_name


def test_official_image_name() -> None:
    assert image_name("pytest-dev__pytest-7490") == "swebench/sweb.eval.x86_64.pytest-dev_1776_pytest-7490:latest"
    assert image_name("Django__Django-1", "my__ns") == "my__ns/sweb.eval.x86_64.django_1776_django-1:latest"


def test_container_lifecycle(docker_engine, tiny_image: str, tiny_instance) -> None:
    limits = SandboxLimits(timeout_s=30, max_output_bytes=1 << 20, memory_mb=1024, max_pids=64, cpus=1.5,
                           max_file_mb=64)
    box = DockerSandbox(tiny_image, strip_history=tiny_instance["base_commit"], env={"MY_VAR": "42"}, limits=limits,
                        run_id="test-run", max_lifetime_s=3600)
    with box:
        container = docker_engine.containers.get(box.name)
        host = container.attrs["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"] and host["SecurityOpt"] == ["no-new-privileges"]
        assert host["NetworkMode"] == "none" and host["PidsLimit"] == 64 and host["Memory"] == 1024 << 20
        assert host["MemorySwap"] == 1024 << 20 and host["NanoCpus"] == 1_500_000_000 and host["Init"] is True
        assert {u["Name"]: u["Hard"] for u in host["Ulimits"]} == {"fsize": 64 << 20, "core": 0}
        labels = container.labels
        assert labels["aemgym"] == "sandbox" and labels["aemgym.run"] == "test-run"
        assert gc.hardening.owner_alive(labels["aemgym.owner"]) and int(labels["aemgym.expires"]) > time.time()
        assert container.attrs["Config"]["Cmd"] == ["sleep", "3600"]
        log = box.exec("git log --all --oneline; git tag; git remote").output
        assert "future fix" not in log and "v0.2.0" not in log and "Add median" in log
        assert box.exec("echo $MY_VAR $PAGER; pwd").output.split() == ["42", "cat", "/testbed"]
        both = box.exec("echo to-stdout; echo to-stderr >&2; exit 3")
        assert both.exit_code == 3 and "to-stdout" in both.output and "to-stderr" in both.output
        assert box.exec("echo kept > /tmp/f").exit_code == 0 and box.read_file("/tmp/f") == "kept\n"
        assert box.exec("cat; echo", stdin=b"piped in").output == "piped in\n"
        timed = box.exec("sleep 20", timeout=1)
        assert timed.timed_out and timed.exit_code == 124 and "timed out after 1 s" in timed.output
        long = box.exec("head -c 30000 /dev/zero | tr '\\0' x")
        assert long.truncated and long.output_chars == 30000 and "output elided" in long.output
        flood = box.exec("yes")  # killed at max_output_bytes, well before its 30 s timeout
        assert flood.note.startswith("output limit") and not flood.timed_out and flood.exit_code != 0
        tag = f"aemgym-held-{uuid.uuid4().hex}"
        held = box.exec(f"(exec -a {tag} sleep 300 &); echo started")  # a background job keeps the stream open
        assert held.exit_code == 0 and held.output == "started\n" and not held.timed_out
        assert tag not in str(container.top()["Processes"])  # killed with its exec
        oom = box.exec("python -c 'x = bytearray(2 << 30)'")
        assert oom.exit_code != 0
        box.write_file("tinycalc/new.py", "X = 1\n")
        box.write_file("deep/er/notes.txt", "hi\n")
        assert box.read_file("tinycalc/new.py") == "X = 1\n" and box.read_file("/testbed/deep/er/notes.txt") == "hi\n"
        with pytest.raises(FileNotFoundError):
            box.read_file("no/such/file")
        patch = box.diff(tiny_instance["base_commit"])
        assert "tinycalc/new.py" in patch and "deep/er/notes.txt" in patch
        assert box.features["disk_limit"].startswith(("storage_opt", "RLIMIT_FSIZE"))
    assert not docker_engine.containers.list(all=True, filters={"name": box.name})
    with DockerSandbox(tiny_image) as fresh:  # the image itself never changed
        assert fresh.exec("test -e tinycalc/new.py || echo pristine").output.strip() == "pristine"


def test_full_pids_limit_is_recovered_from_outside(tiny_image: str) -> None:
    """A detached fork bomb fills the pids limit; the next command still runs, because the container is restarted from
    outside (every process killed, the files kept), and the result says so."""
    with DockerSandbox(tiny_image, limits=SandboxLimits(max_pids=32, timeout_s=20)) as box:
        assert box.exec("echo kept > /testbed/mine").exit_code == 0
        results = [box.exec("(b() { b | b & }; b) </dev/null >/dev/null 2>&1 & echo launched")]
        assert results[0].output.startswith("launched")
        for _ in range(600):  # until the bomb fills the limit (counted in polls, not seconds)
            if box.restarts or len(box.container.top()["Processes"]) >= 30:
                break
            time.sleep(0.05)
        later = [box.exec("cat /testbed/mine") for _ in range(3)]
        assert all(r.output.startswith("kept") for r in later), [r.output[-300:] for r in later]
        assert box.restarts >= 1 and any("restarted" in r.note for r in results + later)
        assert len(box.container.top()["Processes"]) < 10  # the bomb is gone


def test_images_and_engine_errors(docker_engine, tmp_path: Path) -> None:
    assert not docker_available(f"unix://{tmp_path}/none.sock")
    with pytest.raises(SandboxError, match="not present"):
        DockerSandbox("aemgym/no-such-image:latest", pull=False).start()
    with pytest.raises(EnvUnavailable, match="no Docker engine"):
        DockerSandbox("any", base_url=f"unix://{tmp_path}/none.sock").start()
    assert not docker_engine.containers.list(all=True, filters={"ancestor": "aemgym/no-such-image:latest"})


def test_gc_removes_what_crashed_runs_left(docker_engine, tiny_image: str) -> None:
    base = {"aemgym": "sandbox", "aemgym.run": "gc-test", "aemgym.host": gc.socket.gethostname()}
    dead_owner = docker_engine.containers.run(tiny_image, ["sleep", "600"], detach=True, network_mode="none",
                                              labels={**base, "aemgym.owner": "1.0", "aemgym.expires": "9999999999"})
    expired = docker_engine.containers.create(tiny_image, ["sleep", "0"], labels={**base, "aemgym.owner": "1.0"})
    with DockerSandbox(tiny_image) as alive:  # a live owner's running container stays
        reaped = gc.reap_docker(docker_engine)
        assert {dead_owner.name, expired.name} <= set(reaped.containers) and alive.name not in reaped.containers
        assert alive.exec("echo alive").output.strip() == "alive"


@pytest.mark.slow
def test_grading_with_the_official_eval_script(docker_engine, tiny_image: str, tiny_instance) -> None:
    factory = lambda: DockerSandbox(tiny_image)  # noqa: E731
    gold = grade(tiny_instance, tiny_instance["patch"], factory, local=False)
    assert gold.resolved and gold.info()["p2p"] == "4/4", gold.log[-2000:]
    assert "conda activate testbed" in gold.log  # the unmodified official script ran
    none = grade(tiny_instance, "", factory, local=False, run_empty=True)
    assert not none.resolved and none.info()["f2p"] == "0/1"
    assert not docker_engine.containers.list(all=True, filters={"label": "aemgym.run=" + factory().run_id,
                                                                "ancestor": tiny_image})


def test_env_docker_backend(tiny_image: str) -> None:
    import gymnasium as gym

    from agent_envs.swebench.actions import fence

    env = gym.make("agent_envs/SWEBench-v0", backend="docker", expert=True)
    try:
        _, info = env.reset(seed=0)
        _, _, _, _, info = env.step(fence(info["expert_action"]))
        _, reward, terminated, _, info = env.step(fence("submit"))
        assert terminated and reward == 1.0 and info["grade"]["f2p"] == "1/1"
    finally:
        env.close()


@pytest.mark.docker
def test_real_docker_gold_and_empty(shared_data, docker_engine) -> None:
    """The official image of pytest-dev__pytest-7490 (present only where it could be pulled)."""
    import os

    from agent_envs.swebench.data import load_instances

    [inst] = load_instances(shared_data / "swebench", instance_ids=["pytest-dev__pytest-7490"])
    image = image_name(inst["instance_id"])
    if not docker_engine.images.list(name=image.rsplit(":", 1)[0]) and not os.environ.get("AEMGYM_DOCKER_PULL"):
        pytest.skip(f"image {image} not present (no registry here; docker pull it, or set AEMGYM_DOCKER_PULL=1)")
    factory = lambda: DockerSandbox(image)  # noqa: E731
    with DockerSandbox(image, strip_history=inst["base_commit"]) as agent:
        assert agent.exec("git rev-parse HEAD").output.strip() == inst["base_commit"]
        assert agent.exec("git rev-list --all | wc -l").output == agent.exec("git rev-list HEAD | wc -l").output
    assert grade(inst, inst["patch"], factory, local=False).resolved
    assert not grade(inst, "", factory, local=False).resolved
