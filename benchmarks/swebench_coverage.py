"""How many SWE-bench Verified instances the local backend grades: every instance whose repository clone exists is
graded with its gold patch (and, on a sample, with an empty patch, which must never resolve).

    .venv/bin/python benchmarks/swebench_coverage.py --repos-dir DIR [--repo sympy/sympy] [-j 2] [--out DIR]

DIR holds `<owner>__<name>` clones (bare is fine; never commit them). Writes `<out>/results.jsonl` (one record per
grading, as it finishes: rerunning resumes, `--fresh` starts over), `<out>/coverage.md` (the table below) and prints:
per repository, resolved / not resolved (with the failing tests) / not gradable (with the reason), build and grading
time, and disk: the templates' own bytes beside the package cache they share (hard links, counted once).
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

REINSTALL_OFFLINE = re.compile(r"(No matching distribution found for|Could not find a version that satisfies)")
NETWORK = re.compile(r"(NewConnectionError|NameResolutionError|Could not fetch remote image|Max retries exceeded|"
                     r"Network is unreachable|Name or service not known|Temporary failure in name resolution|"
                     r"ConnectionError|httpbin\.org)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repos-dir", required=True)
    parser.add_argument("--data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data" / "swebench"))
    parser.add_argument("--cache-dir", default=None, help="template cache (default ~/.cache/aemgym/swebench)")
    parser.add_argument("--out", default="runs/swebench-coverage")
    parser.add_argument("--repo", action="append", help="only these owner/name repositories (repeatable)")
    parser.add_argument("--instances", nargs="*", help="only these instance ids")
    parser.add_argument("--empty-sample", type=int, default=2, help="instances per repository graded empty too")
    parser.add_argument("-j", "--concurrency", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--fresh", action="store_true", help="forget earlier results in --out")
    parser.add_argument("--network-retry", action="store_true",
                        help="grade the misses that needed the network again with --grading-network")
    args = parser.parse_args()

    from agent_envs.errors import EnvUnavailable
    from agent_envs.swebench.data import load_instances
    from agent_envs.swebench.evaluate import RESULTS, evaluate, read_results
    from agent_envs.swebench.template import default_cache_dir, find_source_repo

    rows = load_instances(args.data, instance_ids=args.instances, repos=args.repo) or []
    present = []
    for row in rows:
        try:
            find_source_repo(row, args.repos_dir)
            present.append(row)
        except EnvUnavailable:
            pass
    present.sort(key=lambda r: (r["repo"], r["version"], r["instance_id"]))
    rank = collections.Counter()
    for row in present:  # round-robin over repositories: every repository is seen early in a long run
        row["_rank"] = rank[row["repo"]]
        rank[row["repo"]] += 1
    present.sort(key=lambda r: (r.pop("_rank"), r["repo"]))
    out = Path(args.out)
    if args.fresh and (out / RESULTS).exists():
        (out / RESULTS).unlink()
    preds = [{"instance_id": r["instance_id"], "model_patch": r["patch"]} for r in present]
    by_repo: dict[str, list[dict]] = collections.defaultdict(list)
    for row in present:
        by_repo[row["repo"]].append(row)
    for repo_rows in by_repo.values():
        if spec_is_conda(repo_rows[0]):
            continue
        step = max(1, len(repo_rows) // max(1, args.empty_sample))
        preds += [{"instance_id": r["instance_id"], "model_patch": "", "key": r["instance_id"] + "#empty",
                   "run_empty": True} for r in repo_rows[::step][: args.empty_sample]]
    print(f"{len(present)} instances with a clone in {args.repos_dir} ({len(rows)} in the data); "
          f"{len(preds) - len(present)} empty-patch gradings", flush=True)
    started = time.monotonic()

    def show(record: dict) -> None:
        print(f"[{time.monotonic() - started:7.0f} s] {record['key']}: {record['status']} "
              f"{record.get('f2p', '')} {record.get('p2p', '')} {record.get('reason', '')[:160]}", flush=True)

    evaluate({r["instance_id"]: r for r in present}, preds, out, repos_dir=args.repos_dir, cache_dir=args.cache_dir,
             timeout_s=args.timeout, concurrency=args.concurrency, resume=True, on_result=show)
    records = read_results(out / RESULTS)
    if args.network_retry:
        again = [{"instance_id": k, "model_patch": r["patch"]} for k, r in ((r["instance_id"], r) for r in present)
                 if records.get(k, {}).get("status") == "unresolved" and network_need(records[k])]
        print(f"{len(again)} misses that needed the network: grading them again with network", flush=True)
        evaluate({r["instance_id"]: r for r in present}, again, out / "network", repos_dir=args.repos_dir,
                 cache_dir=args.cache_dir, timeout_s=args.timeout, concurrency=args.concurrency, resume=True,
                 network=True, on_result=show)
    networked = read_results(out / "network" / RESULTS)
    cache = Path(args.cache_dir) if args.cache_dir else default_cache_dir()
    table = coverage_table(present, records, cache, time.monotonic() - started, networked)
    (out / "coverage.md").write_text(table)
    print(table)


def spec_is_conda(row: dict) -> bool:
    """Whether the instance's environment is a conda environment.yml (the local backend builds none)."""
    from agent_envs.swebench.spec import instance_spec

    return instance_spec(row).get("packages") == "environment.yml"


def template_disk(cache: Path, instance_ids: list[str]) -> tuple[dict[str, int], int]:
    """({instance_id: own KiB}, shared package-cache KiB): one `du` run, the cache first, so files hard-linked from
    the cache count there once and each template shows only its own bytes."""
    from agent_envs.swebench.build_env import uv_cache_dir

    dirs = [cache / "templates" / iid for iid in instance_ids if (cache / "templates" / iid).is_dir()]
    out = subprocess.run(["du", "-sk", str(uv_cache_dir(cache)), *map(str, dirs)], capture_output=True,
                         text=True).stdout
    sizes = {Path(path).name: int(kib) for kib, path in (line.split("\t", 1) for line in out.splitlines())}
    return {iid: sizes.get(iid, 0) for iid in instance_ids}, sizes.get(".uv", 0)


def network_need(record: dict) -> str:
    """Why a graded instance needed the network, from its eval log: its tests call a server, or the eval script's
    reinstall step could not download a dependency the patch adds; "" when neither."""
    log = Path(record.get("log", ""))
    text = log.read_text(errors="replace") if log.is_file() else ""
    setup, _, tests = text.partition(">>>>> Start Test Output")
    if NETWORK.search(tests):
        return "its tests call servers on the internet"
    if REINSTALL_OFFLINE.search(setup):
        return "the reinstall step could not download a dependency the patch adds"
    return ""


def coverage_table(rows: list[dict], records: dict[str, dict], cache: Path, wall_s: float,
                   networked: dict[str, dict]) -> str:
    """The per-repository table and the list of every miss with its reason."""
    own, shared = template_disk(cache, [r["instance_id"] for r in rows])
    lines = ["| repository | instances | resolved | not resolved | not gradable | resolved % of non-conda | "
             "build s (median) | grade s (median) | template MiB (median own) |",
             "|---|---|---|---|---|---|---|---|---|"]
    misses, empties = [], []
    totals = collections.Counter()
    for repo in sorted({r["repo"] for r in rows}):
        ids = [r["instance_id"] for r in rows if r["repo"] == repo]
        recs = [records.get(i, {"status": "missing", "reason": "not run"}) for i in ids]
        count = collections.Counter(r["status"] for r in recs)
        conda = sum("conda environment.yml" in r.get("reason", "") for r in recs)
        builds = sorted(r.get("build_s", 0) for r in recs if r.get("build_s"))
        grades = sorted(r.get("total_s", 0) for r in recs if r["status"] in ("resolved", "unresolved"))
        disk = sorted(own[i] for i in ids if own[i])
        base = len(ids) - conda
        pct = f"{100 * count['resolved'] / base:.0f}%" if base else "n/a (conda only)"
        lines.append(f"| {repo} | {len(ids)} | {count['resolved']} | {count['unresolved']} | "
                     f"{count['error'] + count['missing']} | {pct} | {_median(builds)} | {_median(grades)} | "
                     f"{disk[len(disk) // 2] / 1024 if disk else 0:.0f} |")
        totals.update(instances=len(ids), resolved=count["resolved"], base=base, conda=conda)
        for iid, rec in zip(ids, recs, strict=True):
            if rec["status"] == "unresolved":
                need = network_need(rec)
                failing = rec.get("f2p_failed", []) + rec.get("p2p_failed", [])
                online = networked.get(iid, {}).get("status")
                online = f"; with --grading-network: {online}" if online else ""
                misses.append(f"- {iid}: not resolved{f' (needs the network: {need}{online})' if need else ''}: "
                              f"F2P {rec.get('f2p')} P2P {rec.get('p2p')}; failing: {', '.join(failing[:6])} "
                              f"{rec.get('reason', '')}")
            elif rec["status"] != "resolved":
                misses.append(f"- {iid}: not gradable: {rec.get('reason')}")
        for key, rec in records.items():
            if key.endswith("#empty") and rec["instance_id"] in ids:
                empties.append(f"- {rec['instance_id']}: {rec['status']} (F2P {rec.get('f2p')}, P2P {rec.get('p2p')})")
    pct = 100 * totals["resolved"] / totals["base"] if totals["base"] else 0
    lines.append(f"| **all** | {totals['instances']} | {totals['resolved']} | | {totals['conda']} conda-only | "
                 f"**{pct:.1f}%** of {totals['base']} non-conda | | | |")
    online = sum(1 for k, r in networked.items() if r["status"] == "resolved" and records.get(k, {}).get("status")
                 == "unresolved")
    if online:
        share = 100 * (totals["resolved"] + online) / max(1, totals["base"])
        lines.append(f"| with `--grading-network` | | +{online} | | | **{share:.1f}%** | | | |")
    all_own = sum(own.values()) / 1024
    built = max(1, sum(1 for v in own.values() if v))
    text = "\n".join(lines) + (
        f"\n\nDisk: templates' own bytes {all_own:.0f} MiB in all ({all_own / built:.0f} MiB per built "
        f"template), plus {shared / 1024:.0f} MiB of shared package cache (uv, hard-linked into the "
        f"venvs). Wall time of this run: {wall_s:.0f} s.\n\nMisses:\n" + ("\n".join(misses) or "- none") +
        "\n\nEmpty patch (tests run on the base commit + test patch; must never resolve):\n" +
        ("\n".join(empties) or "- none") + "\n")
    return text


def _median(values: list[float]) -> str:
    return f"{values[len(values) // 2]:.0f}" if values else "-"


if __name__ == "__main__":
    main()
