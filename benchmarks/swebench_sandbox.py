"""SWE-bench sandbox overheads on the synthetic instance, hardened local and Docker backends, each against a baseline
measured in the same run.

Local: episode reset with the template cached (target <= 2 s); per-command overhead of the sandbox over a bare
`subprocess.run(["bash", "-c", "true"])` (target <= 30 ms); the cost of each hardening step (a bubblewrap command
line built up step by step: namespaces as root -> unprivileged user namespace -> no capabilities / no nested user
namespaces -> seccomp, each on `true` and on 400k read/write system calls, in wall and in CPU time (cgroup cpuacct,
as root); the minimal /etc is made once per process and timed); grading time minus the test runtime (target <= 3 s),
the test runtime being the same eval script run bare on a host copy of the repository.
Docker (where an engine answers, e.g. after scripts/docker-engine.sh start): the same reset and per-command figures,
a plain container's exec (no seccomp either) next to a hardened one's (`true` and the same system calls), and
grading with the official eval script.
Usage: .venv/bin/python benchmarks/swebench_sandbox.py [--commands 40] [--resets 5] [--no-docker]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def median_ms(fn: Callable[[], object], n: int) -> float:
    times = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


class CpuMeter:
    """CPU time of this process and everything it starts (sandboxed commands included), from a cgroup v1 `cpuacct`
    group this process moves into (root only; `ms()` is None elsewhere). Wall time on a loaded 2-core machine mostly
    measures the other load; CPU time is the cost itself."""

    def __init__(self) -> None:
        self.path = Path(f"/sys/fs/cgroup/cpuacct/aemgym-bench-{os.getpid()}")
        try:
            self.path.mkdir()
            (self.path / "cgroup.procs").write_text(str(os.getpid()))
        except OSError:
            self.path = None  # type: ignore[assignment]

    def ms(self) -> float | None:
        return int((self.path / "cpuacct.usage").read_text()) / 1e6 if self.path else None

    def close(self) -> None:
        if self.path:
            (self.path.parent / "cgroup.procs").write_text(str(os.getpid()))
            self.path.rmdir()


METER: CpuMeter | None = None


def interleaved(fns: dict[str, Callable[[], object]], n: int, cpu: dict[str, float] | None = None) -> dict[str, float]:
    """Median ms of each function, run round-robin so that a loaded machine slows every variant alike; with `cpu`,
    also the median CPU ms of each (from `METER`, when there is one) into `cpu`."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    cpu_times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(n):
        for name, fn in fns.items():
            c0 = METER.ms() if METER else None
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            if c0 is not None:
                cpu_times[name].append(METER.ms() - c0)  # type: ignore[union-attr, operator]
    if cpu is not None and all(cpu_times.values()):
        cpu.update({name: statistics.median(ts) for name, ts in cpu_times.items()})
    return {name: statistics.median(ts) * 1000 for name, ts in times.items()}


def bare() -> None:
    subprocess.run(["bash", "-c", "true"], check=True)


SYSCALL_HEAVY = "dd if=/dev/zero of=/dev/null bs=1 count=200000 status=none"  # 400k read/write system calls


def hardening_steps(box, n: int) -> None:
    """Time `true`, and a command made of system calls (what seccomp filters), through the sandbox's own command line
    with the hardening added step by step."""
    from agent_envs.sandbox import hardening
    from agent_envs.sandbox.local import SECCOMP_FD

    if box._holder is None:
        print("  (hardening steps need root: skipped)")
        return
    full = box.bwrap_argv("true")
    userns = ["--unshare-user", "--uid", str(hardening.SANDBOX_UID), "--gid", str(hardening.SANDBOX_GID)]
    drop = ["--cap-drop", "ALL"]
    nested = ["--disable-userns"]
    seccomp = ["--seccomp", str(SECCOMP_FD)]

    def without(argv: list[str], *parts: list[str]) -> list[str]:
        out = list(argv)
        for part in parts:
            i = next(j for j in range(len(out)) if out[j:j + len(part)] == part)
            del out[i:i + len(part)]
        return out

    uid, gid = hardening.host_ids()
    drop_priv = ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--no-new-privs", "--"]
    cgroups = "".join(f"echo $$ > {p}/cgroup.procs; " for p in box.cgroups)
    fd = f"exec {SECCOMP_FD}< {box.dir}/seccomp.bpf; "
    steps = [("namespaces only, as root (caps kept)", [], without(full, nested, userns, drop, seccomp)),
             ("+ unprivileged user namespace", drop_priv, without(full, nested, drop, seccomp)),
             ("+ no capabilities, no nested userns", drop_priv, without(full, seccomp)),
             ("+ seccomp filter (= the sandbox)", drop_priv, full)]
    fns: dict[str, Callable[[], object]] = {"bare": bare,
                                            "bare dd": lambda: subprocess.run(["bash", "-c", SYSCALL_HEAVY])}
    for name, prefix, argv in steps:
        for suffix, cmd_argv in (("", argv), (" dd", argv[:-1] + [SYSCALL_HEAVY])):
            cmd = ["nsenter", "-t", str(box._holder.pid), "-m", "--", "sh", "-c", cgroups + fd + 'exec "$@"', "sh",
                   "prlimit", "--core=0", "--", *prefix, *cmd_argv]
            fns[name + suffix] = lambda cmd=cmd: subprocess.run(cmd, check=True)
    cpu: dict[str, float] = {}
    ms = interleaved(fns, n, cpu)

    def cell(values: dict[str, float], name: str, base: str) -> str:
        return f"{values[name]:6.1f} (+{values[name] - values[base]:5.1f})" if values else f"{'-':>15s}"

    print(f"  {'ms, medians (+ over bare)':40s} {'true: wall':>15s} {'CPU':>15s} {'dd: wall':>15s} {'CPU':>15s}")
    for name, _, _ in steps:
        print(f"  {name:40s} {cell(ms, name, 'bare')} {cell(cpu, name, 'bare')} "
              f"{cell(ms, name + ' dd', 'bare dd')} {cell(cpu, name + ' dd', 'bare dd')}")
    print(f"  {'bare':40s} {cell(ms, 'bare', 'bare')} {cell(cpu, 'bare', 'bare')} "
          f"{cell(ms, 'bare dd', 'bare dd')} {cell(cpu, 'bare dd', 'bare dd')}")
    etc_dir = Path(tempfile.mkdtemp())
    t0 = time.perf_counter()
    hardening.write_minimal_etc(etc_dir / "etc", network=False)
    print(f"  minimal /etc, made once per process     {(time.perf_counter() - t0) * 1000:6.1f} ms")
    shutil.rmtree(etc_dir)


def local_figures(args: argparse.Namespace) -> None:
    from agent_envs.swebench.env import SWEBenchEnv
    from agent_envs.swebench.grading import grade
    from agent_envs.swebench.spec import eval_script

    env = SWEBenchEnv()
    t0 = time.perf_counter()
    env.reset(seed=0)
    first = time.perf_counter() - t0
    resets = [median_ms(lambda: env.reset(seed=0), 1) / 1000 for _ in range(args.resets)]
    print(f"local reset: first (builds template, imports swebench) {first:.2f} s; cached median "
          f"{statistics.median(resets):.3f} s over {args.resets} (target <= 2 s)")
    box = env.sandbox
    assert box is not None
    cpu: dict[str, float] = {}
    ms = interleaved({"bare": bare, "box": lambda: box.exec("true")}, args.commands, cpu)
    b, s = ms["bare"], ms["box"]
    cpu_text = f"; CPU per command: bare {cpu['bare']:.1f} ms, sandbox {cpu['box']:.1f} ms" if cpu else ""
    print(f"local command: bare {b:.1f} ms, sandbox {s:.1f} ms -> overhead {s - b:.1f} ms median "
          f"(target <= 30 ms){cpu_text}; features: {box.features}")
    print(f"local hardening steps (`true`, and dd: {SYSCALL_HEAVY}):")
    hardening_steps(box, args.commands)
    instance = dict(env.task.data)  # type: ignore[union-attr]
    factory = env.sandbox_factory(instance, agent=False)
    env.close()
    results = [grade(instance, instance["patch"], factory) for _ in range(3)]
    assert all(r.resolved for r in results), results[0].log[-2000:]
    host = Path(tempfile.mkdtemp(prefix="bare-"))
    template_repo = Path(factory().template)  # type: ignore[attr-defined]
    bare_eval = []
    for _ in range(3):
        shutil.rmtree(host / "repo", ignore_errors=True)
        shutil.copytree(template_repo, host / "repo", symlinks=True)
        subprocess.run(["git", "-C", str(host / "repo"), "apply", "-"], input=instance["patch"].encode(), check=True)
        script = eval_script(instance, local=True).replace("/testbed", str(host / "repo"))
        path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
        bare_eval.append(median_ms(lambda script=script, path=path: subprocess.run(
            ["bash", "-c", script], capture_output=True, env={**os.environ, "PATH": path}), 1) / 1000)
    total = statistics.median(r.total_s for r in results)
    tests = statistics.median(bare_eval)
    inside = statistics.median(r.eval_s for r in results)
    print(f"local grading: total {total:.2f} s, eval script in sandbox {inside:.2f}"
          f" s, same script bare on host {tests:.2f} s -> grading minus test runtime {total - tests:.2f} s "
          "(target <= 3 s)")
    shutil.rmtree(host, ignore_errors=True)
    return instance


def docker_figures(args: argparse.Namespace, instance: dict) -> None:
    from agent_envs.sandbox.docker import DockerSandbox, docker_available, docker_client
    from agent_envs.swebench import synthetic
    from agent_envs.swebench.grading import grade
    from agent_envs.swebench.spec import image_name

    if not docker_available():
        print("docker: no engine answers (scripts/docker-engine.sh start); skipped")
        return
    client = docker_client()
    image = image_name(instance["instance_id"])
    try:
        client.images.get(image)
    except Exception:  # noqa: BLE001 - build it from the base image of scripts/install/45-docker.sh
        synthetic.build_docker_image(client, instance, image)
    starts = []
    for _ in range(args.resets):
        t0 = time.perf_counter()
        with DockerSandbox(image, client=client, strip_history=instance["base_commit"]):
            starts.append(time.perf_counter() - t0)
    print(f"docker reset (create + start + strip history): median {statistics.median(starts):.3f} s over "
          f"{args.resets} (target <= 2 s)")
    with DockerSandbox(image, client=client) as box:
        plain = client.containers.run(image, ["sleep", "600"], detach=True, network_mode="none",
                                      security_opt=["seccomp=unconfined"])  # no hardening at all, no seccomp
        try:
            dd = ["bash", "-c", SYSCALL_HEAVY]
            ms = interleaved({"bare": bare, "box": lambda: box.exec("true"),
                              "raw": lambda: box.container.exec_run(["true"]),
                              "plain": lambda: plain.exec_run(["true"]),
                              "raw dd": lambda: box.container.exec_run(dd),
                              "plain dd": lambda: plain.exec_run(dd)}, args.commands)
        finally:
            plain.remove(force=True)
        b, s, raw, raw_plain = ms["bare"], ms["box"], ms["raw"], ms["plain"]  # (the engine's CPU is not metered)
        print(f"docker command: bare {b:.1f} ms, sandbox exec {s:.1f} ms -> overhead {s - b:.1f} ms median; "
              f"one SDK exec_run: hardened container {raw:.1f} ms, plain container {raw_plain:.1f} ms "
              f"(hardening {raw - raw_plain:+.1f} ms); dd ({SYSCALL_HEAVY.split()[4]}): hardened "
              f"{ms['raw dd']:.1f} ms, plain {ms['plain dd']:.1f} ms; features: {box.features}")
    results = [grade(instance, instance["patch"], lambda: DockerSandbox(image, client=client), local=False)
               for _ in range(3)]
    assert all(r.resolved for r in results), results[0].log[-2000:]
    print(f"docker grading (official eval script): total {statistics.median(r.total_s for r in results):.2f} s, "
          f"eval script {statistics.median(r.eval_s for r in results):.2f} s")
    client.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=40)
    parser.add_argument("--resets", type=int, default=5)
    parser.add_argument("--no-docker", action="store_true")
    args = parser.parse_args()
    cache = Path(tempfile.mkdtemp(prefix="swebench-bench-"))
    os.environ["AEMGYM_SWEBENCH_CACHE"] = str(cache)
    global METER
    METER = CpuMeter()
    try:
        instance = local_figures(args)
        if not args.no_docker:
            docker_figures(args, instance)
    finally:
        METER.close()
        shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
