"""Learners: `update(trajectories) -> metrics`. `LocalLearner` trains a Hugging Face causal LM in this process.

One update (verl-agent's recipe, algorithms.md §0–§4):
1. every turn becomes a sample (token ids as generated), scored `reward_scale·R(τ) − invalid_penalty·1[invalid]`;
2. old log-probs and per-token entropies are recomputed under no_grad (plus reference log-probs for the KL term);
3. base advantage per sample (`aem` GRPO / RLOO / GiGPO) → modulator (none / AEM / EMPG) on the response entropy;
4. `ppo_epochs` × `mini_batches` AdamW steps of PPO-clip (+ k3 KL, entropy bonus, EPO term), micro-batched, with
   gradient clipping.
"""

from __future__ import annotations

import contextlib
import copy
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import torch

import aem
from harness.config import LearnerSection
from harness.models.sampler import allowed_mask, restrict_logits
from harness.train.batching import TokenBatch, TurnSample, collate, episodes_to_samples, group_indices
from harness.types import Episode

#: Hyperparameters each registered estimator / modulator takes from the learner config.
ESTIMATOR_ARGS: dict[str, Callable[[LearnerSection], dict[str, Any]]] = {
    "grpo": lambda c: {"norm_by_std": c.norm_by_std},
    "gigpo": lambda c: {"gamma": c.gigpo_gamma, "omega": c.gigpo_weight, "norm_by_std": c.norm_by_std,
                        "invalid_penalty": c.invalid_penalty},
}
MODULATOR_ARGS: dict[str, Callable[[LearnerSection], dict[str, Any]]] = {
    "aem": lambda c: {"lam": c.aem_lam, "min_range": c.aem_min_range, "scope": c.aem_scope,
                      "variant": c.aem_variant},
    "empg": lambda c: {"k": c.empg_k, "k_future": c.empg_k_future, "zeta": c.empg_zeta},
}


def _no_args(config: LearnerSection) -> dict[str, Any]:
    return {}


class Learner(Protocol):
    """What the training loop needs from a learner."""

    def update(self, episodes: Sequence[Episode]) -> dict[str, float]:
        """One policy update from a batch of finished episodes; returns metrics."""
        ...

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume (weights, optimizer, learner state)."""
        ...

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Inverse of `state_dict`."""
        ...


def sequence_logprobs(model: Any, batch: TokenBatch, temperature: float = 1.0, with_entropy: bool = True,
                      allowed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Log-probs `[B, R]` of the response tokens under `model` (logits / temperature, restricted to `allowed` as the
    sampler was) and their entropies `[B, R]`.
    """
    device = next(model.parameters()).device
    width_r = batch.response_length
    out = model(input_ids=batch.input_ids.to(device), attention_mask=batch.attention_mask.to(device),
                position_ids=batch.position_ids.to(device), use_cache=False, logits_to_keep=width_r + 1)
    logits = restrict_logits(out.logits[:, :-1].float(), allowed)
    if temperature != 1.0:
        logits = logits / temperature
    log_probs = torch.log_softmax(logits, dim=-1)
    token_logp = log_probs.gather(-1, batch.response_ids.to(device)[..., None]).squeeze(-1).cpu()
    entropy = aem.token_entropy_from_logits(logits).cpu() if with_entropy else None
    return token_logp, entropy


def length_buckets(index: torch.Tensor, lengths: torch.Tensor, max_size: int,
                   slack: float = 1.25) -> list[torch.Tensor]:
    """Split `index` `[n]` into micro-batches of at most `max_size` rows whose `lengths` differ by at most `slack`×.

    A chunk's gradient is the sum over its micro-batches in any order, so grouping by length only saves padding
    (first turns of Doors are twice as long as later ones: ~35% of the tokens were padding).
    """
    ordered = index[lengths[index].argsort(stable=True)]
    buckets: list[list[int]] = []
    shortest = 0
    for row in ordered.tolist():
        length = int(lengths[row])
        if not buckets or len(buckets[-1]) >= max_size or length > slack * shortest:
            buckets.append([])
            shortest = length
        buckets[-1].append(row)
    return [torch.tensor(b, dtype=torch.long) for b in buckets]


class LocalLearner:
    """PPO-style learner for a local Hugging Face causal LM with pluggable advantage estimator and modulator.

    Args:
        model: the policy (a `PreTrainedModel`, possibly a peft model); shared with the rollout policy.
        tokenizer: its tokenizer (pad id for batching).
        config: hyperparameters (`LearnerSection`).
        temperature: the rollout temperature (log-probs are taken at the temperature the samples came from).
        seed: seed of the mini-batch shuffling.
        bf16: run forward passes under bf16 autocast.
        allowed_token_ids: the sampler's allowed tokens (constrained decoding), None = all.
    """

    def __init__(self, model: Any, tokenizer: Any, config: LearnerSection, *, temperature: float = 1.0,
                 seed: int = 0, bf16: bool = False, total_iterations: int = 150,
                 allowed_token_ids: list[int] | None = None):
        self.model, self.tokenizer, self.config = model, tokenizer, config
        self.allowed = allowed_mask(allowed_token_ids, model)
        self.temperature, self.bf16 = temperature, bf16
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id)
        params = [p for p in model.parameters() if p.requires_grad]
        self.optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        self.generator = torch.Generator().manual_seed(seed)
        self.updates = 0
        self.reference = None
        if config.kl_coef > 0 and not hasattr(model, "peft_config"):
            self.reference = copy.deepcopy(model).eval().requires_grad_(False)
        self.epo = aem.EPOState(total_steps=max(2, total_iterations)) if config.epo else None
        self._group = self._traj = torch.zeros(0, dtype=torch.long)
        #: Per turn sample of the last update (columns `episode_id`, `turn`, `alpha`, `advantage`,
        #: `response_entropy`): what the modulator amplified and damped; the loop stores it in `advantages.jsonl`.
        self.last_turns: dict[str, list[Any]] = {}

    # ----- state --------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Weights (or LoRA adapters), optimizer, shuffling RNG, update count and EPO history."""
        from harness.models.build import trainable_state_dict

        return {"model": trainable_state_dict(self.model), "optimizer": self.optimizer.state_dict(),
                "generator": self.generator.get_state(), "updates": self.updates,
                "epo": (self.epo.history, self.epo.turn_history) if self.epo is not None else None,
                "reference": self.reference.state_dict() if self.reference is not None else None}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what `state_dict` returned."""
        from harness.models.build import load_trainable_state_dict

        load_trainable_state_dict(self.model, state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.generator.set_state(state["generator"])
        self.updates = int(state["updates"])
        if self.epo is not None and state.get("epo") is not None:
            self.epo.history, self.epo.turn_history = list(state["epo"][0]), list(state["epo"][1])
        if self.reference is not None and state.get("reference") is not None:
            self.reference.load_state_dict(state["reference"])

    # ----- the update ---------------------------------------------------------------------------------------------
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        device = next(self.model.parameters()).device.type
        return torch.autocast(device, dtype=torch.bfloat16) if self.bf16 else contextlib.nullcontext()

    @torch.no_grad()
    def _old_pass(
        self, samples: list[TurnSample]
    ) -> tuple[TokenBatch, torch.Tensor, torch.Tensor, torch.Tensor | None]:
        batch = collate(samples, self.pad_id)
        self.model.eval()
        shape = (len(samples), batch.response_length)
        old_logp, entropy = torch.zeros(shape), torch.zeros(shape)
        ref_logp = torch.zeros(shape) if self.config.kl_coef > 0 else None
        lengths = batch.attention_mask.sum(dim=1)
        for index in length_buckets(torch.arange(len(samples)), lengths, self.config.micro_batch_size):
            sub = batch.select(index)
            width = sub.response_length
            with self._autocast():
                logp, ent = sequence_logprobs(self.model, sub, self.temperature, allowed=self.allowed)
                old_logp[index, :width], entropy[index, :width] = logp, ent
                if ref_logp is not None:
                    ref_logp[index, :width] = self._reference_logprobs(sub)
        return batch, old_logp, entropy, ref_logp

    def _reference_logprobs(self, batch: TokenBatch) -> torch.Tensor:
        if self.reference is not None:
            return sequence_logprobs(self.reference, batch, self.temperature, False, self.allowed)[0]
        with self.model.disable_adapter():  # peft: the base model is the reference
            return sequence_logprobs(self.model, batch, self.temperature, False, self.allowed)[0]

    def advantages(self, samples: list[TurnSample], proxy: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-sample advantages `[B]` and modulation coefficients `[B]`: the base estimator `config.advantage`, then
        the modulator `config.modulator`, both looked up in the `aem` registry.
        """
        cfg = self.config
        estimator, modulator = aem.get_estimator(cfg.advantage), aem.get_modulator(cfg.modulator)
        group = group_indices([s.uid for s in samples])
        invalid = torch.tensor([not s.valid for s in samples])
        scores = torch.tensor([s.score for s in samples], dtype=torch.float64)
        batch = aem.StepBatch(scores=scores, group_index=group, traj_index=group_indices([s.traj_uid for s in samples]),
                              step_index=torch.tensor([s.turn for s in samples], dtype=torch.long), proxy=proxy)
        if cfg.advantage == "gigpo":  # GiGPO applies the invalid penalty itself, to episode and step returns
            batch.scores = scores + cfg.invalid_penalty * invalid
            batch.invalid = invalid
            batch.step_rewards = torch.tensor([s.step_reward for s in samples], dtype=torch.float64) * cfg.reward_scale
            batch.anchor_ids = aem.anchor_ids_from_observations([s.anchor_obs for s in samples], group)
        base = estimator(batch, **ESTIMATOR_ARGS.get(cfg.advantage, _no_args)(cfg)).float()
        extra = {"generator": self.generator} if cfg.modulator == "aem" and cfg.aem_variant == "shuffled" else {}
        return modulator(base, batch, **MODULATOR_ARGS.get(cfg.modulator, _no_args)(cfg), **extra)

    def update(self, episodes: Sequence[Episode]) -> dict[str, float]:
        """Train on the turns of `episodes`; returns metrics (see `update_samples`)."""
        samples, dropped = episodes_to_samples(episodes, reward_scale=self.config.reward_scale,
                                               invalid_penalty=self.config.invalid_penalty)
        metrics = self.update_samples(samples)
        metrics["dropped_turns"] = float(dropped)
        return metrics

    def update_samples(self, samples: list[TurnSample]) -> dict[str, float]:
        """One update on explicit samples. Metrics: losses, KL, clip fractions, entropies, α stats, tokens/s."""
        if not samples:
            self.last_turns = {}
            return {"samples": 0.0}
        cfg = self.config
        start = time.perf_counter()
        batch, old_logp, entropy, ref_logp = self._old_pass(samples)
        mask = batch.response_mask
        proxy = aem.response_entropy(entropy, mask)
        adv, alpha = self.advantages(samples, proxy)
        # S − H of the policy that sampled: after the update S has moved with the advantages on purpose.
        diagnostics_start = time.perf_counter()
        exact = self._exact_diagnostics(samples, alpha) if cfg.exact_diagnostics else {}
        start += time.perf_counter() - diagnostics_start  # not part of the update's time
        self.last_turns = {"episode_id": [s.traj_uid for s in samples], "turn": [s.turn for s in samples],
                           **{key: [round(float(v), 4) for v in values] for key, values in
                              (("alpha", alpha), ("advantage", adv), ("response_entropy", proxy))}}
        self._group = group_indices([s.uid for s in samples])
        self._traj = group_indices([s.traj_uid for s in samples])
        adv_tokens = aem.broadcast_to_tokens(adv, mask)
        rollout_gap = self._rollout_gap(samples, old_logp, mask)
        self.model.train()
        totals: dict[str, float] = {}
        n_steps, trained_tokens = 0, 0.0
        n = len(samples)
        # A mini-batch without advantages (every group solved, or every group failed) says nothing about the policy,
        # yet an AdamW step would still move the weights: along its momentum (on Doors such steps undid a learned
        # policy: PPO KL 0.6 at grad norm 0) or along a regulariser's gradient rescaled to full size. It is skipped.
        skipped, stopped = 0, False
        lengths = batch.attention_mask.sum(dim=1)
        for _ in range(cfg.ppo_epochs):
            order = torch.randperm(n, generator=self.generator)
            for chunk in order.chunk(max(1, min(cfg.mini_batches, n))):
                if stopped:
                    break
                if not bool((adv[chunk].abs() > 1e-9).any()):  # equal scores leave ~1e-11 of float noise
                    skipped += 1
                    continue
                self.optimizer.zero_grad(set_to_none=True)
                chunk_tokens = float(mask[chunk].sum().clamp(min=1))
                chunk_kl = 0.0
                for micro in length_buckets(chunk, lengths, cfg.micro_batch_size):
                    weight = (float(mask[micro].sum()) / chunk_tokens if cfg.loss_agg == "token-mean"
                              else len(micro) / len(chunk))
                    parts = self._micro_loss(batch, micro, old_logp, ref_logp, adv_tokens)
                    (parts.pop("loss") * weight).backward()
                    chunk_kl += parts.pop("approx_kl") * weight
                    for key, value in parts.items():
                        totals[key] = totals.get(key, 0.0) + float(value) * weight
                    trained_tokens += float(batch.attention_mask[micro].sum())
                if cfg.target_kl is not None and chunk_kl > 1.5 * cfg.target_kl:
                    stopped = True  # the policy already moved too far from the one that sampled: no further step
                    break
                params = [p for p in self.model.parameters() if p.requires_grad]
                grad_norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
                totals["grad_norm"] = totals.get("grad_norm", 0.0) + float(grad_norm)
                self.optimizer.step()
                n_steps += 1
        self.model.eval()
        self.updates += 1
        if self.epo is not None:
            self.epo.update(entropy, mask)
        elapsed = time.perf_counter() - start
        metrics = {key: value / max(1, n_steps) for key, value in totals.items()}
        metrics.update(self._batch_metrics(samples, mask, entropy, proxy, adv, alpha))
        metrics.update(self._aem_diagnostics(samples, old_logp, entropy, mask, proxy, adv, alpha))
        metrics.update(exact)
        if cfg.measure_entropy_change:
            after = aem.response_entropy(self._old_pass(samples)[2], mask)
            metrics["entropy_change"] = float((after - proxy).mean())  # realised, on this batch
        metrics.update({"rollout_logprob_gap": rollout_gap, "optimizer_steps": float(n_steps),
                        "skipped_steps": float(skipped), "kl_early_stop": float(stopped),
                        "learner_time_s": elapsed,
                        "learner_tokens_per_s": trained_tokens / max(elapsed, 1e-9)})
        return metrics

    def _micro_loss(self, batch: TokenBatch, micro: torch.Tensor, old_logp: torch.Tensor,
                    ref_logp: torch.Tensor | None, adv_tokens: torch.Tensor) -> dict[str, Any]:
        cfg = self.config
        sub = batch.select(micro)
        width = sub.response_length
        need_entropy = cfg.entropy_coef > 0 or cfg.epo
        with self._autocast():
            logp, ent = sequence_logprobs(self.model, sub, self.temperature, need_entropy, self.allowed)
        mask = sub.response_mask
        loss, pg = aem.policy_loss(logp, old_logp[micro, :width], adv_tokens[micro, :width], mask,
                                   clip_low=cfg.clip_low, clip_high=cfg.clip_high, dual_clip=cfg.dual_clip,
                                   agg=cfg.loss_agg, ratio=cfg.ratio)
        # k3 of KL(π_old‖π) from the rollout samples: kl_k3's `ref` slot holds the current policy.
        approx_kl = float(aem.agg_loss(aem.kl_k3(old_logp[micro, :width], logp.detach(), clamp=None), mask))
        parts: dict[str, Any] = {"approx_kl": approx_kl, "pg_loss": pg["pg_loss"], "clip_frac": pg["pg_clipfrac"],
                                 "clip_frac_lower": pg["pg_clipfrac_lower"], "ppo_kl": pg["ppo_kl"]}
        if ref_logp is not None:
            kl = aem.agg_loss(aem.kl_k3(logp, ref_logp[micro, :width]), mask, cfg.loss_agg)
            loss = loss + cfg.kl_coef * kl
            parts["kl_ref"] = float(kl.detach())
        if ent is not None and cfg.entropy_coef > 0:
            loss = loss - cfg.entropy_coef * aem.agg_loss(ent, mask, cfg.loss_agg)
        if ent is not None and self.epo is not None:
            term, epo_metrics = aem.epo_loss_term(ent, mask, self._traj[micro], self.epo,
                                                  group_index=self._group[micro])
            loss = loss + term
            parts.update(epo_metrics)
        parts["loss"] = loss
        return parts

    @staticmethod
    def _rollout_gap(samples: list[TurnSample], old_logp: torch.Tensor, mask: torch.Tensor) -> float:
        """Largest |rollout log-prob − recomputed old log-prob| (≈ 0 when sampling and training agree)."""
        gap = 0.0
        for row, sample in enumerate(samples):
            if sample.rollout_logprobs:
                n = min(len(sample.rollout_logprobs), int(mask[row].sum()))
                given = torch.tensor(sample.rollout_logprobs[:n])
                gap = max(gap, float((given - old_logp[row, :n]).abs().max()) if n else 0.0)
        return gap

    def _aem_diagnostics(self, samples: list[TurnSample], logp: torch.Tensor, entropy: torch.Tensor,
                         mask: torch.Tensor, proxy: torch.Tensor, adv: torch.Tensor,
                         alpha: torch.Tensor) -> dict[str, float]:
        """What the modulator did: `aem.diagnostics` (sign of the predicted entropy drift A·(S − H), correlation of
        α − 1 with S − H, ...), the spread of α among samples of one prompt, and the sign agreement of α − 1 with
        S − H (S, H summed over the sampled tokens; length-normalised).
        """
        diag = aem.diagnostics(adv, logp, entropy, mask, self._group, alpha=alpha, normalize=True)
        rel = aem.relative_surprisal(logp, entropy, mask, normalize=True)
        moved = (alpha - 1).abs() > 1e-6
        agree = (torch.sign(alpha - 1) == torch.sign(rel))[moved]
        prompts = group_indices([repr(s.prompt_ids) for s in samples])
        spreads = [float(alpha[prompts == p].std()) for p in prompts.unique().tolist() if int((prompts == p).sum()) > 1]
        out = {f"diag/{k}": v for k, v in diag.items()}
        out["diag/alpha_prompt_std"] = sum(spreads) / len(spreads) if spreads else 0.0
        out["diag/alpha_rel_surprisal_sign_agreement"] = float(agree.float().mean()) if agree.numel() else float("nan")
        # natural-gradient theory: response entropy moves with A·(S − H) (algorithms.md, "Theory")
        out["diag/predicted_entropy_change_sign"] = float(torch.sign(torch.tensor(diag["drift_mean"])))
        return out

    def _exact_diagnostics(self, samples: list[TurnSample], alpha: torch.Tensor) -> dict[str, float]:
        """Correlation and sign agreement of α − 1 with the exact S − H of the first-turn responses (enumerated):
        pooled over the batch, and within each prompt's samples (the theory's prediction is r < 0 there: α > 1 for
        confident responses), with the share of prompts where it holds.
        """
        from harness.train.exact import exact_relative_surprisal

        if self.allowed is None:
            raise ValueError("learner.exact_diagnostics needs constrained decoding (policy.allowed_tokens)")
        first = [i for i, s in enumerate(samples) if s.turn == 0]
        longest = max((len(samples[i].response_ids) for i in first), default=1)
        allowed = self.allowed.nonzero().flatten().tolist()
        rel = exact_relative_surprisal(self.model, [samples[i].prompt_ids for i in first],
                                       [samples[i].response_ids for i in first], allowed,
                                       eos_id=int(self.tokenizer.eos_token_id), max_new_tokens=longest,
                                       temperature=self.temperature)
        a = alpha[first].double() - 1
        keep = torch.isfinite(rel) & (a.abs() > 1e-6)
        if int(keep.sum()) < 2:
            return {}
        x, y = a[keep], rel[keep]
        prompts = group_indices([repr(samples[i].prompt_ids) for i in first])[keep]
        within = [float(torch.corrcoef(torch.stack([x[prompts == p], y[prompts == p]]))[0, 1])
                  for p in prompts.unique().tolist() if int((prompts == p).sum()) > 2]
        within = [r for r in within if r == r]  # NaN: α or S − H constant among the prompt's samples
        return {"diag/exact_corr_alpha_rel_surprisal": float(torch.corrcoef(torch.stack([x, y]))[0, 1]),
                "diag/exact_sign_agreement": float((torch.sign(x) == torch.sign(y)).double().mean()),
                "diag/exact_samples": float(keep.sum()),
                "diag/exact_within_prompt_corr": sum(within) / len(within) if within else float("nan"),
                "diag/exact_prompts_predicted_sign": (sum(r < 0 for r in within) / len(within) if within
                                                      else float("nan"))}

    @staticmethod
    def _batch_metrics(samples: list[TurnSample], mask: torch.Tensor, entropy: torch.Tensor, proxy: torch.Tensor,
                       adv: torch.Tensor, alpha: torch.Tensor) -> dict[str, float]:
        tokens = mask.sum().clamp(min=1)
        return {
            "samples": float(len(samples)),
            "response_tokens": float(mask.sum()),
            "token_entropy": float((entropy * mask).sum() / tokens),
            "response_entropy": float(proxy.mean()),
            "alpha_mean": float(alpha.mean()), "alpha_std": float(alpha.std()) if len(alpha) > 1 else 0.0,
            "alpha_min": float(alpha.min()), "alpha_max": float(alpha.max()),
            "adv_mean": float(adv.mean()), "adv_abs_mean": float(adv.abs().mean()),
            "positive_frac": float((adv > 0).float().mean()), "negative_frac": float((adv < 0).float().mean()),
            "invalid_frac": float(sum(not s.valid for s in samples) / len(samples)),
            "truncated_frac": float(sum(s.truncated for s in samples) / len(samples)),
        }
