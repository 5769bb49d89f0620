"""The learner's gradient on a 2-action toy equals a plain-Python hand computation (GRPO, AEM, EMPG)."""

from __future__ import annotations

import math

import pytest
import torch

from harness.config import LearnerSection
from harness.train.batching import TurnSample
from harness.train.learner import LocalLearner
from tests.train.toy import BigramLM, log_softmax_row, toy_tokenizer

W0 = [
    [0.2, -0.4, 0.1, 0.0],
    [0.0, 0.0, 0.0, 0.0],
    [1.0, -1.0, 0.0, 0.5],
    [0.0, 0.3, -0.2, 0.0],
]
# (prompt, response, score, traj, turn): trajectory "a" succeeded (score 1 on both turns), "b" failed.
LAYOUT = [([2], [0], 1.0, "a", 0), ([2], [1], 1.0, "a", 1), ([3], [0, 1], 0.0, "b", 0), ([3], [1], 0.0, "b", 1)]


def _samples() -> list[TurnSample]:
    return [TurnSample(prompt_ids=p, response_ids=r, score=s, step_reward=0.0, uid="g", traj_uid=t, turn=k,
                       anchor_obs=f"{t}{k}", valid=True) for p, r, s, t, k in LAYOUT]


def _tokens() -> list[tuple[int, int, int]]:
    """(sample, context token, action token) for every response token."""
    out = []
    for i, (prompt, response, *_rest) in enumerate(LAYOUT):
        context = prompt[-1]
        for action in response:
            out.append((i, context, action))
            context = action
    return out


def _entropy(row: list[float]) -> float:
    logp = log_softmax_row(row)
    return -sum(math.exp(lp) * lp for lp in logp)


def _proxies() -> list[float]:
    per_sample: dict[int, list[float]] = {}
    for i, context, _ in _tokens():
        per_sample.setdefault(i, []).append(_entropy(W0[context]))
    return [sum(v) / len(v) for _, v in sorted(per_sample.items())]


def _grpo() -> list[float]:
    scores = [s for _, _, s, _, _ in LAYOUT]
    mean = sum(scores) / len(scores)
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / (len(scores) - 1))
    return [(s - mean) / (std + 1e-6) for s in scores]


def _expected_grad(adv: list[float]) -> list[list[float]]:
    """d/dW of the token-mean PPO loss at ratio 1: −(1/N) Σ_tokens A_i (onehot(a) − softmax(W[c]))."""
    tokens = _tokens()
    grad = [[0.0] * 4 for _ in range(4)]
    for i, context, action in tokens:
        probs = [math.exp(x) for x in log_softmax_row(W0[context])]
        for v in range(4):
            grad[context][v] -= adv[i] * ((1.0 if v == action else 0.0) - probs[v]) / len(tokens)
    return grad


def _learner(modulator: str) -> tuple[LocalLearner, BigramLM]:
    model = BigramLM(W0)
    config = LearnerSection(modulator=modulator, ppo_epochs=1, mini_batches=1, micro_batch_size=2, grad_clip=1e9,
                           lr=1e-3, dual_clip=3.0, reward_scale=1.0, invalid_penalty=0.0)
    return LocalLearner(model, toy_tokenizer(), config), model


def _check(modulator: str, adv: list[float]) -> dict[str, float]:
    learner, model = _learner(modulator)
    metrics = learner.update_samples(_samples())
    expected = torch.tensor(_expected_grad(adv))
    assert model.W.grad is not None
    torch.testing.assert_close(model.W.grad, expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(model.W.detach(), torch.tensor(W0)), "the optimizer did not step"
    return metrics


def test_grpo_gradient_matches_hand_computation():
    adv = _grpo()
    assert adv[0] == pytest.approx(math.sqrt(3) / 2, rel=1e-5)  # (1 − 0.5) / sqrt(1/3)
    metrics = _check("none", adv)
    assert metrics["alpha_mean"] == 1.0 and metrics["alpha_std"] == 0.0
    assert metrics["positive_frac"] == 0.5 and metrics["negative_frac"] == 0.5
    assert metrics["token_entropy"] == pytest.approx(sum(_entropy(W0[c]) for _, c, _ in _tokens()) / 5, rel=1e-5)


def test_aem_gradient_matches_hand_computation():
    proxy = _proxies()
    lo, hi = min(proxy), max(proxy)
    assert hi - lo >= 0.1, "toy must exercise the modulation, not the degenerate-range guard"
    weights = [math.exp(-(h - lo) / (hi - lo + 1e-8)) for h in proxy]
    alpha = [w / (sum(weights) / len(weights)) for w in weights]
    adv = [a * b for a, b in zip(alpha, _grpo(), strict=True)]
    metrics = _check("aem", adv)
    assert metrics["alpha_max"] == pytest.approx(max(alpha), rel=1e-5)
    assert metrics["alpha_mean"] == pytest.approx(1.0, rel=1e-5)


def test_empg_gradient_matches_hand_computation():
    proxy = _proxies()
    lo, hi = min(proxy), max(proxy)
    norm = [(h - lo) / (hi - lo + 1e-8) for h in proxy]
    raw = [math.exp(-n) for n in norm]
    g = [r / (sum(raw) / len(raw) + 1e-8) for r in raw]
    base = _grpo()
    # Future-clarity bonus ζ·exp(−H̃_next) for turn 0 of each trajectory (samples 0→1 and 2→3), ζ = 0.1.
    modulated = [g[i] * base[i] + (0.1 * math.exp(-norm[i + 1]) if i in (0, 2) else 0.0) for i in range(4)]
    mean = sum(modulated) / 4
    _check("empg", [m - mean for m in modulated])


def test_second_epoch_clips_and_kl_is_zero_at_start():
    model = BigramLM(W0)
    config = LearnerSection(ppo_epochs=3, mini_batches=2, micro_batch_size=1, lr=0.5, kl_coef=0.1,
                           reward_scale=1.0, invalid_penalty=0.0, clip_low=0.05, clip_high=0.05)
    learner = LocalLearner(model, toy_tokenizer(), config)
    metrics = learner.update_samples(_samples())
    assert metrics["optimizer_steps"] == 6
    assert metrics["clip_frac"] > 0, "a large lr must move ratios outside the 5% clip range"
    assert metrics["kl_ref"] > 0
    assert metrics["rollout_logprob_gap"] == 0.0  # no rollout log-probs given


def test_invalid_penalty_and_reward_scale_enter_the_score():
    from harness.train.batching import episode_samples
    from harness.types import Episode, PolicyResponse, Turn

    def turn(step, valid, reward):
        response = PolicyResponse(text="x", prompt_token_ids=[2], token_ids=[0], logprobs=[-0.5])
        return Turn(step, [], response, "obs", reward, False, False, {"action_valid": valid, "anchor_obs": f"o{step}"})

    episode = Episode("e/0", "env", "t", "g", 0, [turn(0, False, 0.0), turn(1, True, 1.0)], 1.0, True, 1.0)
    samples, dropped = episode_samples(episode, reward_scale=10.0, invalid_penalty=0.1)
    assert dropped == 0
    assert [s.score for s in samples] == [pytest.approx(9.9), 10.0]
    assert samples[1].anchor_obs == "o0" and samples[0].anchor_obs == "t#reset"


def test_a_batch_without_advantages_leaves_the_weights_alone():
    """All groups solved: zero gradient, and no AdamW momentum step either (it undid learned policies on Doors)."""
    learner, model = _learner("none")
    learner.update_samples(_samples())  # builds AdamW momentum
    before = model.W.detach().clone()
    solved = [TurnSample(prompt_ids=s.prompt_ids, response_ids=s.response_ids, score=1.0, step_reward=0.0,
                         uid=s.uid, traj_uid=s.traj_uid, turn=s.turn, anchor_obs=s.anchor_obs, valid=True)
              for s in _samples()]
    metrics = learner.update_samples(solved)
    assert metrics["optimizer_steps"] == 0 and metrics["skipped_steps"] == 1
    assert torch.equal(model.W.detach(), before)


def test_target_kl_stops_the_update_once_the_policy_moved_too_far():
    config = LearnerSection(ppo_epochs=4, mini_batches=1, lr=0.5, reward_scale=1.0, invalid_penalty=0.0,
                           target_kl=1e-4)
    metrics = LocalLearner(BigramLM(W0), toy_tokenizer(), config).update_samples(_samples())
    assert metrics["optimizer_steps"] == 1 and metrics["kl_early_stop"] == 1.0  # epoch 1 at KL 0, then stop
    free = LocalLearner(BigramLM(W0), toy_tokenizer(), config.model_copy(update={"target_kl": None}))
    assert free.update_samples(_samples())["optimizer_steps"] == 4


def test_every_aem_option_reaches_the_modulator_and_diagnostics_are_logged():
    """Scope, variant and guard change α as `aem.aem_modulate` says; the AEM diagnostics and the realised entropy
    change are logged (the theory's sign next to it)."""
    import aem

    proxy = torch.tensor(_proxies(), dtype=torch.float64)
    group = torch.zeros(4, dtype=torch.long)
    traj = torch.tensor([0, 0, 1, 1])
    for scope, variant in (("group", "aem"), ("trajectory", "aem"), ("group", "reversed"), ("batch", "aem")):
        model = BigramLM(W0)
        config = LearnerSection(modulator="aem", aem_scope=scope, aem_variant=variant, aem_min_range=0.0,
                                ppo_epochs=1, lr=0.0, reward_scale=1.0, invalid_penalty=0.0,
                                measure_entropy_change=True)
        learner = LocalLearner(model, toy_tokenizer(), config)
        metrics = learner.update_samples(_samples())
        _, expected = aem.aem_modulate(torch.ones(4, dtype=torch.float64), proxy, group, min_range=0.0, scope=scope,
                                       traj_index=traj, variant=variant)
        assert learner.last_turns["alpha"] == pytest.approx(expected.tolist(), abs=1e-4), (scope, variant)
        assert metrics["entropy_change"] == pytest.approx(0.0, abs=1e-6)  # lr 0: the policy did not move
        for key in ("diag/corr_alpha_rel_surprisal", "diag/alpha_prompt_std", "diag/frac_entropy_up",
                    "diag/predicted_entropy_change_sign", "diag/alpha_rel_surprisal_sign_agreement"):
            assert key in metrics, key
    shuffled = LocalLearner(BigramLM(W0), toy_tokenizer(), LearnerSection(
        modulator="aem", aem_variant="shuffled", aem_min_range=0.0, ppo_epochs=1, lr=0.0))
    shuffled.update_samples(_samples())
    assert sorted(shuffled.last_turns["alpha"]) == pytest.approx(sorted(_alphas("group")), abs=1e-4)  # permuted


def _alphas(scope: str) -> list[float]:
    import aem

    _, alpha = aem.aem_modulate(torch.ones(4, dtype=torch.float64), torch.tensor(_proxies(), dtype=torch.float64),
                                torch.zeros(4, dtype=torch.long), min_range=0.0, scope=scope)
    return alpha.tolist()
