"""Name → function registries so learners and external engines pick estimators and modulators by name.

Registered callables share one calling convention:

* estimator: ``fn(batch: StepBatch, **hparams) -> Tensor[B]`` (per-sample base advantages);
* modulator: ``fn(advantages[B], batch: StepBatch, **hparams) -> (Tensor[B], coef[B])``.

Built-ins: estimators ``grpo``, ``drgrpo``, ``rloo``, ``gigpo``; modulators ``none``, ``aem``, ``empg``. Register your
own with ``@register_estimator("name")`` / ``@register_modulator("name")``; a second registration of a name raises
unless ``override=True``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from aem.advantages import drgrpo_advantages, gigpo_advantages, grpo_advantages, rloo_advantages
from aem.modulation import aem_modulate, empg_modulate


@dataclass
class StepBatch:
    """The per-sample tensors estimators and modulators read (all ``[B]``; optional ones may be ``None``).

    Attributes:
        scores: scalar score per step-sample (episode return minus that step's invalid penalty).
        group_index: task-group ids (``uid``).
        traj_index: trajectory ids (``traj_uid``).
        step_index: turn numbers inside the trajectory.
        step_rewards: per-step env rewards (GiGPO).
        anchor_ids: anchor-observation ids (GiGPO).
        invalid: invalid-action flags (GiGPO penalty; leave ``None`` if ``scores`` already include it).
        proxy: response entropy proxy (AEM / EMPG).
    """

    scores: torch.Tensor
    group_index: torch.Tensor
    traj_index: torch.Tensor | None = None
    step_index: torch.Tensor | None = None
    step_rewards: torch.Tensor | None = None
    anchor_ids: torch.Tensor | None = None
    invalid: torch.Tensor | None = None
    proxy: torch.Tensor | None = None

    def need(self, *names: str) -> None:
        """Raise ``ValueError`` naming every listed field that is ``None``."""
        missing = [name for name in names if getattr(self, name) is None]
        if missing:
            raise ValueError(f"StepBatch is missing {', '.join(missing)}")


Estimator = Callable[..., torch.Tensor]
Modulator = Callable[..., tuple[torch.Tensor, torch.Tensor]]
_ESTIMATORS: dict[str, Estimator] = {}
_MODULATORS: dict[str, Modulator] = {}


def _register(table: dict[str, Callable], kind: str, name: str, override: bool) -> Callable[[Callable], Callable]:
    def decorator(fn: Callable) -> Callable:
        if name in table and not override and table[name] is not fn:
            raise ValueError(f"{kind} {name!r} is already registered (pass override=True to replace it)")
        table[name] = fn
        return fn

    return decorator


def _get(table: dict[str, Callable], kind: str, name: str) -> Callable:
    try:
        return table[name]
    except KeyError:
        raise KeyError(f"unknown {kind} {name!r}; registered: {', '.join(sorted(table))}") from None


def register_estimator(name: str, *, override: bool = False) -> Callable[[Estimator], Estimator]:
    """Decorator registering ``fn(batch: StepBatch, **hparams) -> Tensor[B]`` under ``name``."""
    return _register(_ESTIMATORS, "estimator", name, override)


def register_modulator(name: str, *, override: bool = False) -> Callable[[Modulator], Modulator]:
    """Decorator registering ``fn(advantages, batch: StepBatch, **hparams) -> (Tensor[B], coef[B])`` under ``name``."""
    return _register(_MODULATORS, "modulator", name, override)


def get_estimator(name: str) -> Estimator:
    """The estimator registered as ``name`` (``KeyError`` listing the valid names otherwise)."""
    return _get(_ESTIMATORS, "estimator", name)


def get_modulator(name: str) -> Modulator:
    """The modulator registered as ``name`` (``KeyError`` listing the valid names otherwise)."""
    return _get(_MODULATORS, "modulator", name)


def list_estimators() -> list[str]:
    """Sorted names of the registered estimators."""
    return sorted(_ESTIMATORS)


def list_modulators() -> list[str]:
    """Sorted names of the registered modulators."""
    return sorted(_MODULATORS)


@register_estimator("grpo")
def _grpo(batch: StepBatch, **hparams) -> torch.Tensor:
    return grpo_advantages(batch.scores, batch.group_index, traj_index=batch.traj_index, **hparams)


@register_estimator("drgrpo")
def _drgrpo(batch: StepBatch, **hparams) -> torch.Tensor:
    return drgrpo_advantages(batch.scores, batch.group_index, traj_index=batch.traj_index, **hparams)


@register_estimator("rloo")
def _rloo(batch: StepBatch, *, per_trajectory: bool = False) -> torch.Tensor:
    return rloo_advantages(batch.scores, batch.group_index, traj_index=batch.traj_index if per_trajectory else None)


@register_estimator("gigpo")
def _gigpo(batch: StepBatch, **hparams) -> torch.Tensor:
    batch.need("traj_index", "step_index", "step_rewards", "anchor_ids")
    return gigpo_advantages(
        batch.scores, batch.step_rewards, batch.group_index, batch.traj_index, batch.step_index, batch.anchor_ids,
        invalid=batch.invalid, **hparams,
    )


@register_modulator("none")
def _none(advantages: torch.Tensor, batch: StepBatch) -> tuple[torch.Tensor, torch.Tensor]:
    return advantages, torch.ones(advantages.shape[0], dtype=advantages.dtype, device=advantages.device)


@register_modulator("aem")
def _aem(advantages: torch.Tensor, batch: StepBatch, **hparams) -> tuple[torch.Tensor, torch.Tensor]:
    batch.need("proxy")
    hparams.setdefault("traj_index", batch.traj_index)
    return aem_modulate(advantages, batch.proxy, batch.group_index, **hparams)


@register_modulator("empg")
def _empg(advantages: torch.Tensor, batch: StepBatch, **hparams) -> tuple[torch.Tensor, torch.Tensor]:
    batch.need("proxy", "traj_index", "step_index")
    return empg_modulate(advantages, batch.proxy, batch.group_index, batch.traj_index, batch.step_index, **hparams)
