"""SWE-bench sandbox overheads on the synthetic instance (local backend), each against a baseline from the same run.

Prints: episode reset time with the template cached (target <= 2 s), per-command overhead of the sandbox vs a bare
`subprocess.run(["bash", "-c", "true"])` (target <= 30 ms), and grading time minus the test runtime (target <= 3 s),
where the test runtime is the same eval script run bare on a host copy of the repository.
Usage: .venv/bin/python benchmarks/swebench_sandbox.py [--commands 40] [--resets 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--commands", type=int, default=40)
    parser.add_argument("--resets", type=int, default=5)
    args = parser.parse_args()
    import os

    cache = Path(tempfile.mkdtemp(prefix="swebench-bench-"))
    os.environ["AEMGYM_SWEBENCH_CACHE"] = str(cache)
    from agent_envs.swebench.env import SWEBenchEnv
    from agent_envs.swebench.grading import grade
    from agent_envs.swebench.spec import eval_script

    env = SWEBenchEnv()
    t0 = time.perf_counter()
    env.reset(seed=0)
    first = time.perf_counter() - t0
    resets = []
    for _ in range(args.resets):
        t0 = time.perf_counter()
        env.reset(seed=0)
        resets.append(time.perf_counter() - t0)
    print(f"reset: first (builds template, imports swebench) {first:.2f} s; "
          f"cached median {statistics.median(resets):.3f} s "
          f"over {args.resets} (target <= 2 s)")

    box = env.sandbox
    assert box is not None
    bare, boxed = [], []
    for _ in range(args.commands):
        t0 = time.perf_counter()
        subprocess.run(["bash", "-c", "true"], check=True)
        bare.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        box.exec("true")
        boxed.append(time.perf_counter() - t0)
    b, s = statistics.median(bare) * 1000, statistics.median(boxed) * 1000
    print(f"command: bare {b:.1f} ms, sandbox ({box.features['copy_on_write']}, cgroups: {box.features['pids_limit']}) "
          f"{s:.1f} ms -> overhead {s - b:.1f} ms median, ratio {s / b:.1f}x (target overhead <= 30 ms)")

    instance = dict(env.task.data)  # type: ignore[union-attr]
    factory = env.sandbox_factory(instance, agent=False)
    env.close()
    results = [grade(instance, instance["patch"], factory) for _ in range(3)]
    assert all(r.resolved for r in results)
    host = Path(tempfile.mkdtemp(prefix="bare-"))
    template_repo = Path(factory().template)  # type: ignore[attr-defined]
    bare_eval = []
    for _ in range(3):
        shutil.rmtree(host / "repo", ignore_errors=True)
        shutil.copytree(template_repo, host / "repo", symlinks=True)
        subprocess.run(["git", "-C", str(host / "repo"), "apply", "-"], input=instance["patch"].encode(), check=True)
        script = eval_script(instance, local=True).replace("/testbed", str(host / "repo"))
        t0 = time.perf_counter()
        path = f"{Path(sys.executable).parent}:{os.environ['PATH']}"
        subprocess.run(["bash", "-c", script], capture_output=True, env={**os.environ, "PATH": path})
        bare_eval.append(time.perf_counter() - t0)
    total = statistics.median(r.total_s for r in results)
    inside = statistics.median(r.eval_s for r in results)
    tests = statistics.median(bare_eval)
    print(f"grading: total {total:.2f} s, eval script in sandbox {inside:.2f} s, "
          f"same script bare on host {tests:.2f} s "
          f"-> grading minus test runtime {total - tests:.2f} s (target <= 3 s)")
    shutil.rmtree(host, ignore_errors=True)
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
