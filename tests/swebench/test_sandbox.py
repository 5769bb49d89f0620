"""The local sandbox: isolation, limits, identity, copy-on-write, reaping (the adversarial suite over both backends
is test_escape.py)."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from agent_envs.errors import SandboxError
from agent_envs.sandbox import SandboxLimits, gc, get_sandbox_class, hardening, seccomp, truncate_output
from agent_envs.sandbox.local import LocalSandbox


def tree_digest(path: str | Path) -> str:
    """A hash of every file's path and content under `path` (including .git)."""
    out = subprocess.run(f"cd {path} && find . -type f -print0 | sort -z | xargs -0 sha1sum", shell=True,
                         capture_output=True, text=True, check=True).stdout
    return hashlib.sha1(out.encode()).hexdigest()


def test_truncate_output_keeps_head_and_tail() -> None:
    text, cut = truncate_output("a" * 50 + "b" * 50, head=10, tail=5)
    assert cut and text.startswith("a" * 10) and text.endswith("b" * 5) and "85 of 100" in text
    assert truncate_output("short", 10, 5) == ("short", False)


def test_backend_lookup() -> None:
    assert get_sandbox_class("local") is LocalSandbox
    with pytest.raises(ValueError, match="unknown sandbox backend"):
        get_sandbox_class("vm")


def test_missing_template_is_a_sandbox_error(tmp_path: Path, sb_tools: None) -> None:
    with pytest.raises(SandboxError, match="does not exist"):
        LocalSandbox(tmp_path / "nope").start()


@pytest.mark.parametrize("cow", ["overlay", "copy"])
def test_state_persists_and_template_is_untouched(tiny_template, cow: str) -> None:
    before = tree_digest(tiny_template.repo_dir)
    with tiny_template.sandbox(cow=cow) as box:
        assert box.exec("pwd").output.strip() == "/testbed"
        assert box.exec("echo changed > README.md && echo kept > /tmp/note").exit_code == 0
        assert box.exec("cat README.md /tmp/note").output.split() == ["changed", "kept"]
        box.write_file("new/file.txt", "hello\n")
        assert box.read_file("new/file.txt") == "hello\n"
        patch = box.diff("HEAD")
        assert "+changed" in patch and "new/file.txt" in patch
    assert tree_digest(tiny_template.repo_dir) == before


def test_future_history_is_not_visible(tiny_template) -> None:
    with tiny_template.sandbox() as box:
        log = box.exec("git log --all --oneline; git tag; git remote -v; git reflog | wc -l").output
    assert "Add median" in log and "future fix" not in log and "v0.2.0" not in log and "v0.1.0" in log


def test_command_failure_and_timeout_are_results(tiny_template) -> None:
    with tiny_template.sandbox(limits=SandboxLimits(timeout_s=2)) as box:
        failed = box.exec("echo oops >&2; exit 3")
        assert failed.exit_code == 3 and "oops" in failed.output
        loop = box.exec("while true; do :; done")
        assert loop.exit_code == 124 and loop.timed_out and "timed out" in loop.output
        assert box.exec("echo alive").output.strip() == "alive"


def test_episode_budget(tiny_template) -> None:
    with tiny_template.sandbox(limits=SandboxLimits(timeout_s=5, episode_budget_s=1.0)) as box:
        box.exec("sleep 1.2")
        refused = box.exec("echo hi")
    assert refused.exit_code == -1 and "budget" in refused.note


def test_network_is_off(tiny_template) -> None:
    with tiny_template.sandbox() as box:
        result = box.exec("python -c \"import socket; socket.create_connection(('1.1.1.1', 80), timeout=3)\"; "
                          "ip -o link 2>/dev/null | wc -l; cat /sys/class/net/*/operstate 2>/dev/null | wc -l")
    assert result.exit_code == 0 and ("Network is unreachable" in result.output or "Errno 101" in result.output)


def test_writes_outside_the_repo_and_rm_rf_are_contained(tiny_template, tmp_path: Path) -> None:
    marker = tmp_path / "host-file"
    marker.write_text("host")
    before = tree_digest(tiny_template.repo_dir)
    with tiny_template.sandbox() as box:
        out = box.exec(f"echo x > /usr/evil; echo x > /etc/evil; echo x > {marker}; echo x > /root/evil; "
                       "ls /work /home 2>&1; true").output
        assert "Read-only" in out or "No such file" in out
        box.exec("rm -rf --no-preserve-root / 2>/dev/null; true", timeout=60)
        assert box.exec("ls /usr/bin | head -1").exit_code == 0  # the read-only system survived
    assert marker.read_text() == "host"
    assert not Path("/usr/evil").exists() and not Path("/etc/evil").exists()
    assert tree_digest(tiny_template.repo_dir) == before


def test_unprivileged_identity_and_minimal_etc(tiny_template) -> None:
    uid, gid = hardening.host_ids()
    assert uid != 0 and gid != 0
    with tiny_template.sandbox() as box:
        out = box.exec("id -u; id -un; id -g; cat /etc/passwd; ls /etc; touch made; stat -c %u made").output
        certs = box.exec("python -c \"import ssl; print(len(ssl.create_default_context().get_ca_certs()) > 0 or "
                         "bool(ssl.get_default_verify_paths().cafile))\"").output.strip()
        upper_uids = [f.stat().st_uid for f in box.dir.rglob("made")] if box.cow == "overlay" else []
    lines = out.split()
    assert lines[:3] == ["1000", "sandbox", "1000"] and lines[-1] == "1000"
    assert "sandbox:x:1000:1000" in out and "shadow" not in out and "resolv.conf" not in out and "sudoers" not in out
    assert certs == "True"
    assert upper_uids == ([uid] if hardening.privileged() else [])  # on the host: the sandbox's host id
    if hardening.privileged():
        assert Path(tiny_template.repo_dir).stat().st_uid == uid  # templates are owned by the sandbox's host id


def test_cow_paths_are_writable_per_sandbox(tiny_template, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    (venv / "lib").mkdir(parents=True)
    (venv / "lib" / "pkg.py").write_text("V = 1\n")
    hardening.own_for_sandbox(venv)
    box = LocalSandbox(tiny_template.repo_dir, ro_paths=tiny_template.ro_paths, cow_paths=[venv],
                       path_prepend=tiny_template.path_prepend, work_root=tmp_path / "work")
    if not hardening.privileged():
        pytest.skip("copy-on-write paths need root (overlays in a private mount namespace); read-only without it")
    with box:
        assert box.cow == "overlay", box.features
        assert box.exec(f"echo 'V = 2' > {venv}/lib/pkg.py && touch {venv}/lib/new.py").exit_code == 0
        assert box.exec(f"cat {venv}/lib/pkg.py").output == "V = 2\n"
    assert (venv / "lib" / "pkg.py").read_text() == "V = 1\n" and not (venv / "lib" / "new.py").exists()
    with LocalSandbox(tiny_template.repo_dir, cow_paths=[venv], ro_paths=tiny_template.ro_paths,
                      work_root=tmp_path / "work") as again:
        assert again.exec(f"cat {venv}/lib/pkg.py").output == "V = 1\n"
    left = [p.name for p in (tmp_path / "work").iterdir()]
    assert all(name.endswith("-etc") for name in left), left  # sandbox directories are removed at close (the
    # minimal /etc is shared by this process's sandboxes)


def test_reaper_removes_what_dead_owners_left(tmp_path: Path) -> None:
    dead, alive = tmp_path / "sbx-1.0-dead", tmp_path / f"sbx-{hardening.owner_tag()}-alive"
    dead.mkdir()
    alive.mkdir()
    cgroup = gc.CGROUP_ROOT / "pids" / "aemgym-1.0-test"
    if hardening.privileged():
        cgroup.mkdir(exist_ok=True)
    reaped = gc.reap_local([tmp_path])
    assert not dead.exists() and alive.exists() and str(dead) in reaped.dirs
    if hardening.privileged():
        assert not cgroup.exists() and str(cgroup) in reaped.cgroups


def test_sandbox_gc_command(tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from harness.commands.sandbox import register

    (tmp_path / "sbx-1.0-left").mkdir()
    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["sandbox", "gc", "--work-root", str(tmp_path), "--no-docker"])
    assert result.exit_code == 0, result.output
    assert "1 sandbox directories" in result.output and not (tmp_path / "sbx-1.0-left").exists()


def test_seccomp_program_shape() -> None:
    program = seccomp.program()
    assert program is not None and len(program) % 8 == 0 and len(program) // 8 > len(seccomp.DENIED)
