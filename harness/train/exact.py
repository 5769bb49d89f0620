"""Exact response distributions under constrained decoding, by enumeration.

With decoding restricted to a few letters (plus an end token) and a short response limit, every response the sampler
(`generation.sample_batch`) can produce can be listed: K letters, limit M → Σ_{k<M} K^k responses that end with the end
token plus K^M that hit the limit (341 for K = 4, M = 4). One forward pass over the K^(M−1) letter sequences gives the
next-token distribution after every prefix, hence the exact probability of each response, the exact response entropy
`H = −Σ p log p`, each response's surprisal `S = −log p` and its token entropies (AEM's proxy). These are the quantities
of AEM's theory (algorithms.md §4), here without Monte-Carlo error.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from harness.models.sampler import allowed_mask, restrict_logits


@dataclass
class ResponseDistribution:
    """Every possible response to one prompt with its exact probability.

    Attributes:
        responses: token ids of each response (ending with the end token, or `max_new_tokens` long).
        logprob: `[N]` float64, log π(response); `logprob.exp().sum() == 1`.
        token_entropy: `[N, M]` float64, entropy of the next-token distribution at each position of the response (0
            beyond its end), over the allowed tokens.
        lengths: `[N]` response lengths.
    """

    responses: list[tuple[int, ...]]
    logprob: torch.Tensor
    token_entropy: torch.Tensor
    lengths: torch.Tensor
    _rows: dict[tuple[int, ...], int] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._rows = {r: i for i, r in enumerate(self.responses)}

    @property
    def probs(self) -> torch.Tensor:
        """`[N]` probabilities."""
        return self.logprob.exp()

    @property
    def entropy(self) -> float:
        """Exact response entropy H = E[S] (nats)."""
        return float(-(self.probs * self.logprob).sum())

    @property
    def surprisal(self) -> torch.Tensor:
        """`[N]` response surprisal S = −log π(response)."""
        return -self.logprob

    @property
    def mean_token_entropy(self) -> torch.Tensor:
        """`[N]` AEM's proxy: the mean token entropy along each response."""
        return self.token_entropy.sum(-1) / self.lengths.clamp(min=1)

    def row(self, token_ids: Sequence[int]) -> int:
        """The row of a response given by its token ids (KeyError if the sampler could not produce it)."""
        return self._rows[tuple(int(t) for t in token_ids)]

    def mass(self, accept: Any) -> float:
        """Total probability of the responses for which `accept(token_ids)` is true."""
        keep = torch.tensor([bool(accept(r)) for r in self.responses])
        return float(self.probs[keep].sum())


@torch.no_grad()
def response_distributions(
    model: Any,
    prompts: Sequence[Sequence[int]],
    allowed_ids: Sequence[int],
    *,
    eos_id: int | None,
    max_new_tokens: int,
    temperature: float = 1.0,
) -> list[ResponseDistribution]:
    """Exact distributions of the responses `generation.sample_batch` samples for each prompt.

    Args:
        model: a Hugging Face causal LM.
        prompts: prompt token ids (non-empty each).
        allowed_ids: the tokens decoding is restricted to (as `sample_batch(allowed=...)`); may include `eos_id`.
        eos_id: the end token (a response stops after it); None or not in `allowed_ids`: every response has exactly
            `max_new_tokens` letters.
        max_new_tokens: the response limit M.
        temperature: sampling temperature (> 0).

    Returns:
        One `ResponseDistribution` per prompt, responses in a fixed order (by length, then lexicographic).
    """
    if temperature <= 0 or max_new_tokens < 1 or not prompts:
        raise ValueError(f"need temperature > 0, max_new_tokens >= 1 and prompts, got {temperature=} {max_new_tokens=}")
    allowed = allowed_mask(list(allowed_ids), model)
    letters = [int(t) for t in dict.fromkeys(allowed_ids) if t != eos_id]
    ends = eos_id is not None and eos_id in allowed_ids
    k, m = len(letters), max_new_tokens
    if k ** m > 1 << 16:
        raise ValueError(f"{k} letters and {m} tokens give {k ** m} responses: too many to enumerate")
    stems = torch.tensor(list(itertools.product(range(k), repeat=m - 1)), dtype=torch.long).reshape(k ** (m - 1), m - 1)
    stem_ids = torch.tensor(letters, dtype=torch.long)[stems]  # [S, M-1], S = K^(M-1), lexicographic order
    device = next(model.parameters()).device
    out = []
    for prompt in prompts:
        n_stems, width = stem_ids.shape[0], len(prompt) + m - 1
        input_ids = torch.cat([torch.tensor(list(prompt), dtype=torch.long).expand(n_stems, -1), stem_ids], dim=1)
        positions = torch.arange(width).expand(n_stems, -1)
        logits = model(input_ids=input_ids.to(device), attention_mask=torch.ones_like(input_ids).to(device),
                       position_ids=positions.to(device), use_cache=False, logits_to_keep=m).logits
        logits = restrict_logits(logits.double(), allowed) / temperature  # [S, M, V]: after 0..M-1 stem letters
        log_probs = torch.log_softmax(logits, dim=-1).cpu()
        entropy = -(log_probs.exp() * log_probs).sum(-1)  # [S, M]
        letter_lp = log_probs[..., letters]  # [S, M, K]
        cum = torch.zeros(n_stems, m, dtype=torch.float64)  # log-prob of the first j stem letters
        if m > 1:
            cum[:, 1:] = letter_lp[:, :-1].gather(-1, stems[..., None]).squeeze(-1).cumsum(-1)
        responses, logprob, ent_rows, lengths = [], [], [], []
        if ends:
            eos = int(eos_id)  # type: ignore[arg-type]  # ends implies an end token
            for j in range(m):  # j letters, then the end token: stems whose later letters are all the first letter
                rows = torch.arange(0, n_stems, k ** (m - 1 - j))
                for row in rows.tolist():
                    responses.append((*stem_ids[row, :j].tolist(), eos))
                logprob.append(cum[rows, j] + log_probs[rows, j, eos])
                ent_rows.append(torch.nn.functional.pad(entropy[rows, : j + 1], (0, m - j - 1)))
                lengths.append(torch.full((len(rows),), j + 1))
        last = cum[:, m - 1, None] + letter_lp[:, m - 1]  # [S, K]: M letters, stopped by the limit
        for row in range(n_stems):
            responses.extend((*stem_ids[row].tolist(), c) for c in letters)
        logprob.append(last.reshape(-1))
        ent_rows.append(entropy.repeat_interleave(k, dim=0))
        lengths.append(torch.full((n_stems * k,), m))
        out.append(ResponseDistribution(responses, torch.cat(logprob), torch.cat(ent_rows), torch.cat(lengths)))
    return out


@torch.no_grad()
def exact_relative_surprisal(
    model: Any,
    prompts: Sequence[Sequence[int]],
    responses: Sequence[Sequence[int]],
    allowed_ids: Sequence[int],
    *,
    eos_id: int | None,
    max_new_tokens: int,
    temperature: float = 1.0,
    max_prompts: int | None = None,
) -> torch.Tensor:
    """`[B]` exact relative surprisal `S − H` of sampled responses (the driver of AEM's entropy law).

    One enumeration per distinct prompt (~40 ms for the tiny model, 341 responses); with `max_prompts`, only the first
    that many distinct prompts are enumerated. NaN for samples not enumerated or not producible under `allowed_ids`.
    """
    if len(prompts) != len(responses):
        raise ValueError(f"{len(prompts)} prompts but {len(responses)} responses")
    distinct = list(dict.fromkeys(tuple(p) for p in prompts))[:max_prompts]
    tables = dict(zip(distinct, response_distributions(model, distinct, allowed_ids, eos_id=eos_id,
                                                       max_new_tokens=max_new_tokens, temperature=temperature)
                      if distinct else [], strict=True))
    out = torch.full((len(prompts),), float("nan"), dtype=torch.float64)
    for i, (prompt, response) in enumerate(zip(prompts, responses, strict=True)):
        table = tables.get(tuple(prompt))
        if table is None:
            continue
        try:
            out[i] = float(table.surprisal[table.row(response)]) - table.entropy
        except KeyError:  # e.g. a token outside allowed_ids: not a response of this table
            continue
    return out
