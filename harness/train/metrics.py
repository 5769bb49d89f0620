"""Metric sinks of a training run: `metrics.jsonl` and `advantages.jsonl` (always), tensorboard and Weights & Biases
(optional).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.types import Episode

METRICS_FILE = "metrics.jsonl"
#: One row per iteration: the α, advantage and response entropy of every turn sample (columns), for the viewer.
ADVANTAGES_FILE = "advantages.jsonl"


def rollout_metrics(episodes: list[Episode], prefix: str) -> dict[str, float]:
    """Success, score, reward, turns and invalid-action rate of a set of episodes, keys prefixed (`train/`, `eval/`)."""
    ok = [e for e in episodes if e.status == "ok"]
    n = max(1, len(ok))
    turns = [t for e in ok for t in e.turns]
    return {
        f"{prefix}success": sum(e.success for e in ok) / n,
        f"{prefix}score": sum(e.score for e in ok) / n,
        f"{prefix}reward": sum(e.total_reward for e in ok) / n,
        f"{prefix}turns": len(turns) / n,
        f"{prefix}invalid_frac": sum(not t.info.get("action_valid", True) for t in turns) / max(1, len(turns)),
        f"{prefix}episodes": float(len(episodes)),
        f"{prefix}errors": float(len(episodes) - len(ok)),
    }


def _iteration_of(line: str) -> float:
    """The iteration of a JSONL row; infinity for a blank or torn line (a kill mid-write), so it is dropped."""
    try:
        return float(json.loads(line).get("iteration", 0))
    except (json.JSONDecodeError, AttributeError, TypeError, ValueError):
        return float("inf")


class MetricsLogger:
    """Appends one JSON row per iteration; mirrors scalars to tensorboard / wandb when enabled."""

    def __init__(self, run_dir: Path, *, tensorboard: bool = False, wandb: bool = False, config: dict | None = None):
        self.path = Path(run_dir) / METRICS_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tb: Any = None
        self._wandb: Any = None
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter  # needs the `tensorboard` package

            self._tb = SummaryWriter(str(Path(run_dir) / "tensorboard"))
        if wandb:
            import wandb as wandb_module

            self._wandb = wandb_module.init(project="aemgym", dir=str(run_dir), config=config or {})

    def truncate_after(self, iteration: int) -> None:
        """Drop rows after `iteration` from `metrics.jsonl` and `advantages.jsonl` (a resumed run re-does them)."""
        for path in (self.path, self.path.with_name(ADVANTAGES_FILE)):
            if not path.is_file():
                continue
            kept = [line for line in path.read_text().splitlines() if _iteration_of(line) <= iteration]
            path.write_text("".join(line + "\n" for line in kept))

    def log_turns(self, iteration: int, columns: dict[str, list[Any]]) -> None:
        """Append the learner's per-turn columns (`episode_id`, `turn`, `alpha`, ...) of `iteration`, if any."""
        if columns:
            with self.path.with_name(ADVANTAGES_FILE).open("a") as handle:
                handle.write(json.dumps({"iteration": iteration, **columns}) + "\n")

    def log(self, row: dict[str, Any]) -> None:
        """Write one row (must hold `iteration`)."""
        with self.path.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        step = int(row["iteration"])
        scalars = {k: v for k, v in row.items() if isinstance(v, (int, float)) and k != "iteration"}
        if self._tb is not None:
            for key, value in scalars.items():
                self._tb.add_scalar(key, value, step)
            self._tb.flush()
        if self._wandb is not None:
            self._wandb.log(scalars, step=step)

    def close(self) -> None:
        """Flush and close the optional sinks."""
        if self._tb is not None:
            self._tb.close()
        if self._wandb is not None:
            self._wandb.finish()


def read_metrics(run_dir: Path | str) -> list[dict[str, Any]]:
    """The rows of a run's `metrics.jsonl`."""
    path = Path(run_dir) / METRICS_FILE
    if not path.is_file():
        raise FileNotFoundError(f"no {METRICS_FILE} in {run_dir}")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
