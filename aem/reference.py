"""Slow, obviously-correct loop references for every vectorised function (tests and benchmarks only).

Plain Python loops over samples and tokens, dicts for groups, ``math`` for scalars; written straight from the
formulas in algorithms.md, sharing no code with the fast versions.
"""

from __future__ import annotations

import math
from collections import defaultdict

import torch


def _groups(keys: list) -> dict:
    members: dict = defaultdict(list)
    for i, key in enumerate(keys):
        members[key].append(i)
    return members


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _std(xs: list[float]) -> float:
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def response_mean_ref(values: torch.Tensor, mask: torch.Tensor, sign: float = 1.0, empty: float = 0.0) -> list[float]:
    """Masked token mean per row (``sign=-1`` turns log-probs into surprisal)."""
    out = []
    for row, m in zip(values.tolist(), mask.tolist(), strict=True):
        picked = [sign * v for v, keep in zip(row, m, strict=True) if keep]
        out.append(sum(picked) / len(picked) if picked else empty)
    return out


def token_entropy_ref(logits: torch.Tensor) -> list[list[float]]:
    """Entropy of every position's softmax, by the definition ``−Σ p log p``."""
    out = []
    for row in logits.tolist():
        ents = []
        for z in row:
            top = max(z)
            exps = [math.exp(v - top) for v in z]
            total = sum(exps)
            ents.append(-sum((e / total) * math.log(e / total) for e in exps if e > 0))
        out.append(ents)
    return out


def grpo_ref(scores: list[float], groups: list, norm_by_std: bool = True, eps: float = 1e-6,
             trajs: list | None = None) -> list[float]:
    """GRPO; ``trajs`` given → statistics over the first sample of each trajectory."""
    out = [0.0] * len(scores)
    for _, idx in _groups(groups).items():
        if trajs is None:
            vals = [scores[i] for i in idx]
        else:
            seen: dict = {}
            for i in idx:
                seen.setdefault(trajs[i], scores[i])
            vals = list(seen.values())
        mean, std = (0.0, 1.0) if len(vals) == 1 else (_mean(vals), _std(vals))
        for i in idx:
            out[i] = (scores[i] - mean) / (std + eps) if norm_by_std else scores[i] - mean
    return out


def rloo_ref(scores: list[float], groups: list, trajs: list | None = None) -> list[float]:
    """Leave-one-out over samples, or over trajectories (value = first sample's score)."""
    out = list(scores)
    for _, idx in _groups(groups).items():
        if trajs is None:
            if len(idx) < 2:
                continue
            for i in idx:
                out[i] = scores[i] - _mean([scores[j] for j in idx if j != i])
        else:
            values: dict = {}
            for i in idx:
                values.setdefault(trajs[i], scores[i])
            if len(values) < 2:
                continue
            for i in idx:
                out[i] = scores[i] - _mean([v for t, v in values.items() if t != trajs[i]])
    return out


def discounted_ref(rewards: list[float], trajs: list, steps: list, gamma: float) -> list[float]:
    """``R_t = r_t + γ R_{t+1}`` walking each trajectory backwards in step order."""
    out = [0.0] * len(rewards)
    for _, idx in _groups(trajs).items():
        running = 0.0
        for i in sorted(idx, key=lambda j: steps[j], reverse=True):
            running = rewards[i] + gamma * running
            out[i] = running
    return out


def gigpo_ref(episode: list[float], rewards: list[float], groups: list, trajs: list, steps: list, anchors: list, *,
              gamma: float = 0.95, omega: float = 1.0, norm_by_std: bool = True, eps: float = 1e-6,
              invalid: list[bool] | None = None, penalty: float = 0.1) -> list[float]:
    """GiGPO episode + ω·step advantage, verl-agent conventions (singleton anchor group → 0)."""
    returns = discounted_ref(rewards, [(g, t) for g, t in zip(groups, trajs, strict=True)], steps, gamma)
    scores = list(episode)
    if invalid is not None:
        scores = [s - penalty * bad for s, bad in zip(scores, invalid, strict=True)]
        returns = [r - penalty * bad for r, bad in zip(returns, invalid, strict=True)]
    ep = grpo_ref(scores, groups, norm_by_std, eps)
    step = [0.0] * len(scores)
    for _, idx in _groups([(g, a) for g, a in zip(groups, anchors, strict=True)]).items():
        vals = [returns[i] for i in idx]
        mean = _mean(vals)
        std = _std(vals) if len(vals) > 1 else 1.0
        for i in idx:
            step[i] = (returns[i] - mean) / (std + eps) if norm_by_std else returns[i] - mean
    return [e + omega * s for e, s in zip(ep, step, strict=True)]


def aem_alpha_ref(proxy: list[float], scope_keys: list, lam: float = 1.0, min_range: float = 0.1,
                  eps: float = 1e-8, reversed_: bool = False) -> list[float]:
    """AEM α per sample; NaN proxies are excluded and get 1."""
    alpha = [1.0] * len(proxy)
    for _, idx in _groups(scope_keys).items():
        live = [i for i in idx if math.isfinite(proxy[i])]
        if not live:
            continue
        low, high = min(proxy[i] for i in live), max(proxy[i] for i in live)
        if high - low < min_range:
            continue
        sign = 1.0 if reversed_ else -1.0
        weights = {i: math.exp(sign * lam * (proxy[i] - low) / (high - low + eps)) for i in live}
        mean = _mean(list(weights.values()))
        for i in live:
            alpha[i] = weights[i] / mean
    return alpha


def spans_ref(mask: torch.Tensor) -> list[tuple[int, list[int]]]:
    """The runs of ones of each mask row as ``(row, token positions)``, row by row, left to right."""
    spans = []
    for b, row in enumerate(mask.tolist()):
        current: list[int] = []
        for t, keep in enumerate(row):
            if keep:
                current.append(t)
            elif current:
                spans.append((b, current))
                current = []
        if current:
            spans.append((b, current))
    return spans


def aem_span_alpha_ref(values: torch.Tensor, mask: torch.Tensor, groups: list, *, scope: str = "group",
                       trajs: list | None = None, lam: float = 1.0, min_range: float = 0.1, eps: float = 1e-8,
                       reversed_: bool = False) -> list[list[float]]:
    """AEM α per token of multi-turn samples: one α per run of ones (turn), from the turn's mean token value."""
    spans = spans_ref(mask)
    proxy = [_mean([float(values[b, t]) for t in toks]) for b, toks in spans]
    if scope == "group":
        keys = [groups[b] for b, _ in spans]
    elif scope == "trajectory":
        keys = [(groups[b], b if trajs is None else trajs[b]) for b, _ in spans]
    else:
        keys = [0 for _ in spans]
    alpha = aem_alpha_ref(proxy, keys, lam=lam, min_range=min_range, eps=eps, reversed_=reversed_)
    out = [[1.0] * mask.shape[1] for _ in range(mask.shape[0])]
    for (b, toks), a in zip(spans, alpha, strict=True):
        for t in toks:
            out[b][t] = a
    return out


def empg_ref(adv: list[float], proxy: list[float], trajs: list, steps: list, *, k: float = 1.0,
             k_future: float = 1.0, zeta: float = 0.1, eps: float = 1e-8, zero_mean: bool = True) -> list[float]:
    """EMPG on step-samples (all proxies finite): batch min–max, g, next-step bonus, zero mean."""
    low, high = min(proxy), max(proxy)
    norm = [(h - low) / (high - low + eps) for h in proxy]
    raw = [math.exp(-k * x) for x in norm]
    mean_raw = _mean(raw)
    out = []
    for i in range(len(adv)):
        value = raw[i] / (mean_raw + eps) * adv[i]
        for j in range(len(adv)):
            if trajs[j] == trajs[i] and steps[j] == steps[i] + 1:
                value += zeta * math.exp(-k_future * norm[j])
        out.append(value)
    if zero_mean:
        m = _mean(out)
        out = [v - m for v in out]
    return out


def policy_loss_ref(logp: torch.Tensor, old: torch.Tensor, adv: torch.Tensor, mask: torch.Tensor, *,
                    clip_low: float = 0.2, clip_high: float = 0.2, dual_clip: float | None = None,
                    agg: str = "token-mean", ratio: str = "token") -> float:
    """PPO-clip loss value with explicit loops (``adv`` is ``[B, T]``)."""
    rows = []
    for b in range(logp.shape[0]):
        toks = [t for t in range(logp.shape[1]) if mask[b, t]]
        seq = _mean([float(logp[b, t] - old[b, t]) for t in toks]) if toks else 0.0
        losses = []
        for t in toks:
            r = math.exp(min(seq, 10.0)) if ratio == "sequence" else math.exp(float(logp[b, t] - old[b, t]))
            a = float(adv[b, t])
            value = max(-a * r, -a * min(max(r, 1 - clip_low), 1 + clip_high))
            if dual_clip is not None and a < 0:
                value = min(value, -a * dual_clip)
            losses.append(value)
        rows.append(losses)
    if agg == "token-mean":
        flat = [v for row in rows for v in row]
        return sum(flat) / len(flat) if flat else 0.0
    per_seq = []
    for row in rows:
        if not row:
            continue
        if agg == "seq-mean-token-mean":
            per_seq.append(_mean(row))
        elif agg == "seq-mean-token-sum":
            per_seq.append(sum(row))
        else:
            per_seq.append(sum(row) / logp.shape[1])
    return _mean(per_seq) if per_seq else 0.0


def kl_k3_ref(logp: torch.Tensor, ref: torch.Tensor) -> list[list[float]]:
    """``exp(ref − logp) − (ref − logp) − 1`` per token, clamped to ±10."""
    return [[max(-10.0, min(10.0, math.exp(r - p) - (r - p) - 1)) for p, r in zip(prow, rrow, strict=True)]
            for prow, rrow in zip(logp.tolist(), ref.tolist(), strict=True)]


def epo_paper_ref(ent: torch.Tensor, mask: torch.Tensor, trajs: list, *, coef: float, alpha: float,
                  kappa_low: float, kappa_high: float, history: list[float], gamma: float, total_steps: int) -> float:
    """EPO paper term ``−λ[L^H − β_k L^smooth]`` with loops (value only)."""
    turn_means: dict = defaultdict(list)
    smooth_means: dict = defaultdict(list)
    ref = _mean(history) if history else None
    for b in range(ent.shape[0]):
        toks = [float(ent[b, t]) for t in range(ent.shape[1]) if mask[b, t]]
        if not toks:
            continue
        turn_means[trajs[b]].append(_mean(toks))
        if ref is not None:
            pen = [alpha * (max(kappa_low * ref - h, 0.0) + max(h - kappa_high * ref, 0.0)) for h in toks]
            smooth_means[trajs[b]].append(_mean(pen))
    entropy = _mean([_mean(v) for v in turn_means.values()]) if turn_means else 0.0
    smooth = _mean([_mean(v) for v in smooth_means.values()]) if smooth_means else 0.0
    beta = 1 + math.exp(-gamma * len(history) / max(total_steps // 2, 1))
    return -coef * (entropy - beta * smooth)
