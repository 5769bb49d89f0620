"""Docker backend: one container per sandbox from a SWE-bench instance image, driven through the `docker` CLI.

Contract (the one mini-swe-agent uses with the official `swebench/sweb.eval.x86_64.<id>` images):
`docker run -d --name <unique> -w /testbed --network none IMAGE sleep infinity`; every command is a fresh
`docker exec -w /testbed -e K=V ... <id> bash -c 'timeout -k 5 T bash -c CMD'` (stateless shell, persistent files);
`docker rm -f <id>` at close. `BASH_ENV` points at the image's `/root/.bashrc` so the conda env `testbed` is active.
With `strip_history=<base commit>` the container's git history after the base commit is removed at start.
The CLI (not the docker SDK) keeps the dependency footprint at zero and lets tests substitute a fake `docker` binary.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import uuid

from agent_envs.errors import EnvUnavailable, SandboxError
from agent_envs.sandbox.base import WORKDIR, ExecResult, Sandbox, SandboxLimits, run_streaming

#: Run at start when `strip_history` is set: no remotes, no refs or tags beyond the base commit, no reflog.
STRIP_HISTORY = """set -e
cd {workdir}
git checkout -q -f {base} 2>/dev/null || true
git branch -f aemgym-base {base} && git checkout -q aemgym-base
for r in $(git remote); do git remote remove "$r"; done
git for-each-ref --format='%(refname)' refs/heads refs/remotes refs/stash | grep -v '^refs/heads/aemgym-base$' | \
  xargs -r -n1 git update-ref -d
for t in $(git tag --no-merged {base}); do git tag -d "$t" >/dev/null; done
git reflog expire --expire=now --all && git gc -q --prune=now
"""


def docker_available(docker: str = "docker") -> bool:
    """Whether `docker info` works (an engine is reachable)."""
    if shutil.which(docker) is None:
        return False
    try:
        return subprocess.run([docker, "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


class DockerSandbox(Sandbox):
    """A container from `image` with the repository at `/testbed`.

    Args:
        image: e.g. `swebench/sweb.eval.x86_64.pytest-dev_1776_pytest-7490:latest`.
        docker: the docker executable (a path to a compatible fake in tests).
        network: give the container network access (default off: `--network none`).
        strip_history: a base commit; later history is removed at start (agent sandboxes; not needed for grading).
        pull: pull the image first when it is not present.
        limits / env: as for every sandbox (memory and pids limits become `--memory` / `--pids-limit`).
    """

    backend = "docker"

    def __init__(self, image: str, *, docker: str = "docker", network: bool = False, strip_history: str | None = None,
                 pull: bool = True, limits: SandboxLimits | None = None, env: dict[str, str] | None = None):
        super().__init__(limits, {"BASH_ENV": "/root/.bashrc", **(env or {})})
        self.image, self.docker, self.network = image, docker, network
        self.strip_history, self.pull = strip_history, pull
        self.container_id: str | None = None
        self.name = f"aemgym-{uuid.uuid4().hex[:12]}"

    def _cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        try:
            return subprocess.run([self.docker, *args], capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError as exc:
            raise EnvUnavailable(f"docker executable {self.docker!r} not found; install Docker or use "
                                 "backend='local'") from exc
        except subprocess.TimeoutExpired as exc:
            raise SandboxError(f"docker {args[0]} timed out after {timeout} s") from exc

    def start(self) -> DockerSandbox:
        """Create the container (pulling the image if needed), then strip future git history."""
        if self.pull and self._cli("image", "inspect", self.image, timeout=60).returncode != 0:
            pulled = self._cli("pull", self.image, timeout=3600)
            if pulled.returncode != 0:
                raise SandboxError(f"cannot pull {self.image}: {pulled.stderr.strip()[:400]}")
        args = ["run", "-d", "--name", self.name, "-w", WORKDIR, f"--memory={self.limits.memory_mb}m",
                f"--pids-limit={self.limits.max_pids}"]
        if not self.network:
            args += ["--network", "none"]
        created = self._cli(*args, self.image, "sleep", "infinity", timeout=600)
        if created.returncode != 0:
            raise SandboxError(f"docker run {self.image} failed: {created.stderr.strip()[:400]}")
        self.container_id = created.stdout.strip().splitlines()[-1]
        self.started = True
        if self.strip_history:
            script = STRIP_HISTORY.format(workdir=WORKDIR, base=shlex.quote(self.strip_history))
            result = self.exec(script, timeout=600)
            if result.exit_code != 0:
                self.close()
                raise SandboxError(f"stripping git history failed: {result.output[-400:]}")
            self.used_s = 0.0
        return self

    def _exec(self, cmd: str, timeout_s: float, stdin: bytes | None = None) -> ExecResult:
        assert self.container_id is not None
        argv = [self.docker, "exec"] + (["-i"] if stdin is not None else []) + ["-w", WORKDIR]
        for key, value in self.env.items():
            argv += ["-e", f"{key}={value}"]
        # `timeout` inside the container stops the command itself; the client-side deadline is a backstop.
        inner = f"timeout -k 5 {max(1, int(timeout_s))} bash -c {shlex.quote(cmd)}"
        argv += [self.container_id, "bash", "-c", inner]
        result = run_streaming(argv, timeout_s=timeout_s + 10, limits=self.limits, stdin=stdin)
        if result.exit_code == 124 and not result.timed_out:  # stopped by `timeout` inside the container
            result.timed_out, result.note = True, f"timed out after {timeout_s:g} s"
            result.output += f"\n[{result.note}; the command was killed]"
        return result

    def _close(self) -> None:
        if self.container_id is not None:
            self._cli("rm", "-f", self.container_id, timeout=120)
            self.container_id = None

    @property
    def features(self) -> dict[str, str]:
        """The isolation in force (for reports)."""
        return {"copy_on_write": "container layer", "network": "on" if self.network else "off (--network none)",
                "pids_limit": f"--pids-limit={self.limits.max_pids}",
                "memory_limit": f"--memory={self.limits.memory_mb}m"}
