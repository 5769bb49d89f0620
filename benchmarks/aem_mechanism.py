"""AEM's mechanism, measured (issue 19): the sign law of the entropy change, exactly and under practical steps.

    .venv/bin/python benchmarks/aem_mechanism.py            # ~6 min on one core (+ ~40 s for an uncached warm start)
    .venv/bin/python benchmarks/aem_mechanism.py --quick    # ~1 min, fewer cases

The law (algorithms.md §4): a natural-gradient step on one sampled response `a` with advantage `A` changes the
response entropy `H` with the sign of `A·(S − H)`, `S = −log π(a)`. Four measurements:

1. Tabular autoregressive policy (softmax logits for every prefix, 4 letters, length 3; `aem.entropy_drift_agreement`):
   exact natural-gradient steps vs plain gradient steps of the same Fisher norm, several step sizes.
2. The tiny byte transformer on Codes turn prompts (warm-started, `harness/train/warmstart.py`), decoding constrained
   to A–D + end token (341 possible responses, enumerated exactly by `harness/train/exact.py`): one policy-gradient
   step on one sampled response with `A = ±1` (random sign); SGD and fresh Adam; the exact `ΔH` against
   `sign(A·(S − H))`.
3. The split experiment from checkpoints 0/20/40/60 of a short GRPO run (one Adam step per iteration): a batch of 8
   prompts × 8 exact samples, GRPO advantages (score 10·[hinted code] − 0.1·[no door code]), AEM's α from the exact
   per-response mean token entropy; one step (fresh Adam, or SGD) on all samples (GRPO), on all with α (AEM), on the
   subsets `A·(α − 1) > 0` / `< 0`, and on the theory's own subsets `A·(S − H) > 0` / `< 0`; exact mean ΔH.
   Prediction: `A·(S − H) > 0` raises the entropy, `< 0` lowers it; as α − 1 tracks H − S, the subset
   `A·(α − 1) < 0` should raise it and `A·(α − 1) > 0` lower it.
4. The theory check `aem.entropy_drift_agreement`, scored where the natural and the plain step disagree.

One thread; everything is seeded.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

import aem
from harness.models.sampler import allowed_mask, restrict_logits
from harness.models.tiny import byte_tokenizer, tiny_model
from harness.train.exact import ResponseDistribution, response_distributions
from harness.train.warmstart import WarmStartConfig, code_token_ids, observation_prompt, play_observations, warm_start

LIMIT = 4  # response limit: 3 letters + end token
LR = 1e-3  # Adam lr of the GRPO run and the split steps (at Doors' 5e-3 one step moves H by ~0.15 nats)
SGD_LR = 0.05


# ----- 1 and 4: tabular policies --------------------------------------------------------------------------------------
def tabular_rows(n_cases: int) -> list[list[str]]:
    """Agreement of the sign law for natural and plain steps (overall and where they disagree)."""
    rows = []
    for length, letters in ((1, 8), (3, 4)):
        for step in (0.01, 0.1, 0.3):
            kw = {"n_cases": n_cases, "length": length, "min_responses": 2 if length == 1 else letters,
                  "max_responses": letters, "step_size": step, "seed": 0}
            nat, plain = aem.entropy_drift_agreement(**kw), aem.entropy_drift_agreement(**kw, natural=False)
            rows.append([f"{'categorical ≤8' if length == 1 else 'autoregressive 4 letters × 3'}", f"{step:g}",
                         f"{nat['fraction']:.3f}", f"{plain['fraction']:.3f}", f"{int(nat['disagree_cases'])}",
                         f"{nat['fraction_where_steps_disagree']:.3f}",
                         f"{plain['fraction_where_steps_disagree']:.3f}"])
    return rows


# ----- the tiny model on Codes ----------------------------------------------------------------------------------------
@dataclass
class Turn:
    prompt: list[int]
    hint: str


class CodesLab:
    """The tiny model on Codes turn prompts: exact distributions, scores, policy-gradient steps."""

    def __init__(self, model: Any, tokenizer: Any, alphabet: str, codes: list[str]):
        self.model, self.tokenizer = model, tokenizer
        self.letters, self.eos = code_token_ids(tokenizer, alphabet)
        self.allowed_ids = [*self.letters, self.eos]
        self.allowed = allowed_mask(self.allowed_ids, model)
        self.pad = int(tokenizer.pad_token_id)
        to_id = dict(zip(alphabet, self.letters, strict=True))
        self.code_of = {(*(to_id[ch] for ch in code), self.eos): code for code in codes}

    def dists(self, turns: list[Turn]) -> list[ResponseDistribution]:
        self.model.eval()
        return response_distributions(self.model, [t.prompt for t in turns], self.allowed_ids, eos_id=self.eos,
                                      max_new_tokens=LIMIT)

    def score(self, response: tuple[int, ...], hint: str) -> float:
        """The trainer's score of a one-turn episode: 10 for the hinted door, −0.1 for a code that is no door."""
        code = self.code_of.get(response)
        return 10.0 * (code == hint) - 0.1 * (code is None)

    def logprobs(self, prompts: list[list[int]], responses: list[tuple[int, ...]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token log-probs `[B, R]` (with grad; restricted to the allowed tokens) and the response mask."""
        width_p, width_r = max(len(p) for p in prompts), max(len(r) for r in responses)
        batch = len(prompts)
        ids = torch.full((batch, width_p + width_r), self.pad, dtype=torch.long)
        attention = torch.zeros_like(ids)
        targets = torch.full((batch, width_r), self.pad, dtype=torch.long)
        mask = torch.zeros((batch, width_r))
        for row, (p, r) in enumerate(zip(prompts, responses, strict=True)):
            ids[row, width_p - len(p): width_p + len(r)] = torch.tensor([*p, *r])
            attention[row, width_p - len(p): width_p + len(r)] = 1
            targets[row, : len(r)] = torch.tensor(r)
            mask[row, : len(r)] = 1
        positions = (attention.cumsum(1) - 1).clamp(min=0)
        logits = self.model(input_ids=ids, attention_mask=attention, position_ids=positions, use_cache=False,
                            logits_to_keep=width_r + 1).logits[:, :-1]
        log_probs = torch.log_softmax(restrict_logits(logits.float(), self.allowed), dim=-1)
        return log_probs.gather(-1, targets[..., None]).squeeze(-1), mask

    def step(self, prompts: list[list[int]], responses: list[tuple[int, ...]], adv: torch.Tensor, *, lr: float,
             optimizer: str = "adam", state: torch.optim.Optimizer | None = None) -> None:
        """One PPO-clip step (ratio 1 at the start, so the policy gradient), token-mean, grad clip 1."""
        self.model.train()
        opt = state if state is not None else (torch.optim.Adam(self.model.parameters(), lr=lr) if optimizer == "adam"
                        else torch.optim.SGD(self.model.parameters(), lr=lr))
        logp, mask = self.logprobs(prompts, responses)
        loss, _ = aem.policy_loss(logp, logp.detach(), adv.float()[:, None] * mask, mask, dual_clip=3.0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        opt.step()
        self.model.eval()


def turns_of(tokenizer: Any, config: WarmStartConfig, n: int, split: str, seed: int) -> list[Turn]:
    return [Turn(observation_prompt(tokenizer, o["observation"]), o["hint"])
            for o in play_observations(config, n, split=split, seed=seed)]


def sample_group(dist: ResponseDistribution, size: int, gen: torch.Generator) -> list[int]:
    return torch.multinomial(dist.probs, size, replacement=True, generator=gen).tolist()


# ----- checkpoints: a short GRPO run ----------------------------------------------------------------------------------
def grpo_checkpoints(lab: CodesLab, train: list[Turn], at: list[int], *, lr: float, seed: int) -> dict[int, dict]:
    """Weights after each iteration in `at` of GRPO (8 prompts × 8 exact samples, one Adam step per iteration)."""
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(lab.model.parameters(), lr=lr)
    saved, successes = {}, []
    for it in range(max(at) + 1):
        if it in at:
            saved[it] = {"weights": copy.deepcopy(lab.model.state_dict()),
                         "train_success": statistics.mean(successes[-10:]) if successes else float("nan")}
        if it == max(at):
            break
        turns = [train[int(i)] for i in torch.randint(len(train), (8,), generator=gen)]
        prompts, responses, scores, group = [], [], [], []
        for g, (turn, dist) in enumerate(zip(turns, lab.dists(turns), strict=True)):
            for row in sample_group(dist, 8, gen):
                prompts.append(turn.prompt)
                responses.append(dist.responses[row])
                scores.append(lab.score(dist.responses[row], turn.hint))
                group.append(g)
        successes.append(statistics.mean(s == 10.0 for s in scores))
        adv = aem.grpo_advantages(torch.tensor(scores), torch.tensor(group))
        if bool((adv != 0).any()):
            lab.step(prompts, responses, adv, lr=lr, state=opt)
    return saved


# ----- 2: single steps ------------------------------------------------------------------------------------------------
def single_step_rows(lab: CodesLab, turns: list[Turn], label: str, n_cases: int, seed: int) -> list[list[str]]:
    """Sign agreement of exact ΔH with A·(S − H) after one step on one sampled response."""
    start = copy.deepcopy(lab.model.state_dict())
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for case in range(n_cases):
        turn = turns[case % len(turns)]
        dist, = lab.dists([turn])
        row = sample_group(dist, 1, gen)[0]
        adv = 1.0 if float(torch.rand(1, generator=gen)) < 0.5 else -1.0
        cases.append((turn, dist, row, adv))
    out = []
    for optimizer, lr in (("sgd", SGD_LR), ("adam", 1e-4), ("adam", LR), ("adam", 5e-3)):
        predicted, measured = [], []
        for turn, dist, row, adv in cases:
            lab.model.load_state_dict(start)
            lab.step([turn.prompt], [dist.responses[row]], torch.tensor([adv]), lr=lr, optimizer=optimizer)
            after, = lab.dists([turn])
            predicted.append(adv * (float(dist.surprisal[row]) - dist.entropy))
            measured.append(after.entropy - dist.entropy)
        lab.model.load_state_dict(start)
        hits = [(p > 0) == (m > 0) for p, m in zip(predicted, measured, strict=True)]
        cut = statistics.median(abs(p) for p in predicted)
        clear = [h for h, p in zip(hits, predicted, strict=True) if abs(p) > cut]
        corr = torch.corrcoef(torch.tensor([predicted, measured]))[0, 1]
        out.append([label, f"{optimizer} lr {lr:g}", str(len(hits)), f"{statistics.mean(hits):.3f}",
                    f"{statistics.mean(clear):.3f} (> {cut:.2f})", f"{float(corr):.2f}",
                    f"{statistics.mean(abs(m) for m in measured):.4f}"])
    return out


# ----- 3: the split experiment ----------------------------------------------------------------------------------------
SUBSETS = ("GRPO (all)", "AEM (all, ×α)", "A(α−1) > 0", "A(α−1) < 0", "A(S−H) > 0", "A(S−H) < 0")


def split_rows(lab: CodesLab, turns: list[Turn], label: str, reps: int, *, optimizer: str, lr: float,
               seed: int) -> tuple[list, list]:
    """Mean exact ΔH (×10³) per subset update, and the α diagnostics, over `reps` batches of 8 prompts × 8 samples."""
    start = copy.deepcopy(lab.model.state_dict())
    gen = torch.Generator().manual_seed(seed)
    deltas: dict[str, list[float]] = {s: [] for s in SUBSETS}
    sizes: dict[str, list[int]] = {s: [] for s in SUBSETS}
    paired: list[float] = []  # ΔH(AEM) − ΔH(GRPO) on the same batch
    diag = {"neg": [], "corr": [], "sign": [], "prompt_pos": [], "success": [], "entropy": []}
    for _ in range(reps):
        lab.model.load_state_dict(start)
        batch = [turns[int(i)] for i in torch.randint(len(turns), (8,), generator=gen)]
        dists = lab.dists(batch)
        before = torch.tensor([d.entropy for d in dists])
        prompts, responses, scores, group, rel, proxy = [], [], [], [], [], []
        for g, (turn, dist) in enumerate(zip(batch, dists, strict=True)):
            for row in sample_group(dist, 8, gen):
                prompts.append(turn.prompt)
                responses.append(dist.responses[row])
                scores.append(lab.score(dist.responses[row], turn.hint))
                group.append(g)
                rel.append(float(dist.surprisal[row]) - dist.entropy)
                proxy.append(float(dist.mean_token_entropy[row]))
        group_t, rel_t = torch.tensor(group), torch.tensor(rel, dtype=torch.float64)
        adv = aem.grpo_advantages(torch.tensor(scores), group_t).double()
        alpha = aem.aem_alpha(torch.tensor(proxy), group_t, min_range=0.01)
        diag["neg"].append(float((adv < 0).double().mean()))
        diag["success"].append(statistics.mean(s == 10.0 for s in scores))
        diag["entropy"].append(float(before.mean()))
        moved = alpha != 1
        if int(moved.sum()) > 2:
            diag["corr"].append(float(torch.corrcoef(torch.stack([alpha[moved] - 1, -rel_t[moved]]))[0, 1]))
            diag["sign"].append(float(((alpha[moved] > 1) == (rel_t[moved] < 0)).double().mean()))
        for g in range(len(batch)):
            sel = (group_t == g) & moved
            if int(sel.sum()) > 2 and float((-rel_t[sel]).std()) > 0 and float(alpha[sel].std()) > 0:
                r = torch.corrcoef(torch.stack([alpha[sel] - 1, -rel_t[sel]]))[0, 1]
                diag["prompt_pos"].append(float(r > 0))
        drive = adv * (alpha - 1)
        masks = {"GRPO (all)": torch.ones_like(adv), "AEM (all, ×α)": alpha, "A(α−1) > 0": (drive > 0).double(),
                 "A(α−1) < 0": (drive < 0).double(), "A(S−H) > 0": (adv * rel_t > 0).double(),
                 "A(S−H) < 0": (adv * rel_t < 0).double()}
        for name, weight in masks.items():
            chosen = adv * weight
            sizes[name].append(int((chosen != 0).sum()))
            if not bool((chosen != 0).any()):
                continue
            lab.model.load_state_dict(start)
            lab.step(prompts, responses, chosen, lr=lr, optimizer=optimizer)
            after = torch.tensor([d.entropy for d in lab.dists(batch)])
            deltas[name].append(float((after - before).mean()) * 1e3)
        if len(deltas["AEM (all, ×α)"]) == len(deltas["GRPO (all)"]) > len(paired):
            paired.append(deltas["AEM (all, ×α)"][-1] - deltas["GRPO (all)"][-1])
    lab.model.load_state_dict(start)
    row = [label, f"{optimizer} lr {lr:g}"]
    for name in SUBSETS:
        values = deltas[name]
        if not values:
            row.append("–")
            continue
        se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan")
        up = statistics.mean(v > 0 for v in values)
        row.append(f"{statistics.mean(values):+.1f} ± {se:.1f} (↑{up:.0%}, n̄ {statistics.mean(sizes[name]):.0f})")
    row.append(f"{statistics.mean(paired):+.1f} ± {statistics.stdev(paired) / len(paired) ** 0.5:.1f}"
               if len(paired) > 1 else "–")
    diag_row = [label, f"{statistics.mean(diag['success']):.2f}", f"{statistics.mean(diag['entropy']):.2f}",
                f"{statistics.mean(diag['neg']):.2f}",
                f"{statistics.mean(diag['corr']):.2f}" if diag["corr"] else "–",
                f"{statistics.mean(diag['sign']):.2f}" if diag["sign"] else "–",
                f"{sum(diag['prompt_pos']):.0f}/{len(diag['prompt_pos'])}"]
    return row, diag_row


def table(header: list[str], rows: list[list[str]]) -> str:
    return "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                      *("| " + " | ".join(r) + " |" for r in rows)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer cases (~1 min)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    t0, c0 = time.perf_counter(), time.process_time()
    n_tab, n_single, reps, at = (500, 30, 3, [0, 20]) if args.quick else (4000, 100, 8, [0, 20, 40, 60])

    print("## 1/4. Tabular policies: sign(ΔH) = sign(A·(S − H))?  (one step, Fisher norm = step)\n")
    print(table(["policy", "step", "natural", "plain", "cases where they disagree", "natural there", "plain there"],
                tabular_rows(n_tab)))

    tokenizer = byte_tokenizer()
    model = tiny_model(seed=0)
    config = WarmStartConfig()
    info = warm_start(model, tokenizer, config)
    how = "cached" if info["cached"] else f"trained in {info['seconds']:.0f} s"
    print(f"\nwarm start: {how} ({info['path']})")
    from agent_envs.codes import door_codes

    lab = CodesLab(model, tokenizer, "ABCD", door_codes())
    train = turns_of(tokenizer, config, 400, "train", args.seed)
    valid = turns_of(tokenizer, config, 64, "valid", args.seed + 1)
    checkpoints = grpo_checkpoints(lab, train, at, lr=LR, seed=args.seed)
    single, split, diags = [], [], []
    for it, saved in checkpoints.items():
        lab.model.load_state_dict(saved["weights"])
        label = f"it. {it}" + (" (warm start)" if it == 0 else f" (train succ. {saved['train_success']:.2f})")
        if it in (at[0], at[-1]):
            single += single_step_rows(lab, valid, label, n_single, args.seed)
        for optimizer, lr in (("adam", LR), ("sgd", SGD_LR)):  # the same batches for both
            row, diag_row = split_rows(lab, valid, label, reps, optimizer=optimizer, lr=lr, seed=args.seed)
            split.append(row)
        diags.append(diag_row)
    print("\n## 2. Tiny transformer, one step on one sampled response (A = ±1): sign(ΔH_exact) = sign(A·(S − H))?\n")
    print(table(["checkpoint", "step", "cases", "agreement", "agreement, upper half of |A(S−H)|",
                 "r(A(S−H), ΔH)", "mean |ΔH|"], single))
    print("\n## 3. Split experiment: exact mean ΔH ×10³ over 8 prompts after one step (fresh Adam, or SGD), "
          "mean ± se over batches (share of batches with ΔH > 0, mean samples with A ≠ 0)\n")
    print(table(["checkpoint", "step", *SUBSETS, "AEM − GRPO (paired)"], split))
    print("\nα diagnostics (per batch of 8 groups × 8; α with guard 0.01): hinted-code rate, exact H, share of A < 0, "
          "r(α − 1, H − S) over samples with α ≠ 1, sign agreement of α − 1 with H − S, prompts with within-group "
          "r > 0\n")
    print(table(["checkpoint", "success", "H", "A < 0", "r(α−1, H−S)", "sign agreement", "prompts r > 0"], diags))
    print(f"\ntotal {time.perf_counter() - t0:.0f} s wall, {time.process_time() - c0:.0f} s CPU")


if __name__ == "__main__":
    main()
