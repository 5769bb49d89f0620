"""End-to-end check of a real SWE-bench Verified instance with the local backend (opt-in; needs a local clone).

    .venv/bin/python benchmarks/swebench_real_instance.py --repos-dir DIR [--instance pytest-dev__pytest-7490]

DIR holds `<owner>__<name>` (or `<name>`) git clones, e.g. `git clone https://github.com/pytest-dev/pytest
DIR/pytest-dev__pytest` (never commit it). Builds the template (Python from pyenv, pip pins from the spec, needs PyPI
once), then grades no patch, the gold patch and prints F2P/P2P, resolved and wall times.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos-dir", required=True)
    parser.add_argument("--instance", default="pytest-dev__pytest-7490")
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "swebench"))
    parser.add_argument("--cache-dir", default=None)
    args = parser.parse_args()
    from agent_envs.swebench.data import load_instances
    from agent_envs.swebench.grading import grade
    from agent_envs.swebench.template import build_template

    [inst] = load_instances(args.data, instance_ids=[args.instance])
    t0 = time.perf_counter()
    tpl = build_template(inst, cache_dir=args.cache_dir, repos_dir=args.repos_dir)
    print(f"template: {time.perf_counter() - t0:.1f} s, python {tpl.python}, notes {tpl.notes}")
    with tpl.sandbox() as box:
        seen = box.exec(f"git log --oneline --all | wc -l; git rev-list --count {inst['base_commit']}").output.split()
        print(f"commits visible: {seen[0]}, commits up to base: {seen[1]} (equal = no future history)")
    for name, patch in (("no patch", ""), ("gold", inst["patch"])):
        result = grade(inst, patch, tpl.sandbox)
        info = result.info()
        print(f"{name}: resolved={result.resolved} applied={result.patch_applied} F2P {info['f2p']} P2P {info['p2p']} "
              f"eval {result.eval_s:.1f} s total {result.total_s:.1f} s")


if __name__ == "__main__":
    main()
