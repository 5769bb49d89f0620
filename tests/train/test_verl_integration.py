"""The verl path: token-exact multi-turn buffers (main venv) and, in .venv-verl (verl 0.9.1), the registered
`aemgym_env` agent loop on Doors, env calls off the event loop (8 concurrent trajectories), the launch recipe's dry
run (verl's own config validation, no GPU) and the trainer hooks that feed entropies to the `aem` estimator."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from pathlib import Path

import gymnasium as gym
import pytest
import torch

import aem
import agent_envs  # noqa: F401
from harness.rollout.env_executors import InlineExecutor
from harness.verl.multiturn import ChatTokens, play_token_episode

ROOT = Path(__file__).resolve().parents[2]
VERL_PYTHON = ROOT / os.environ.get("VERL_VENV", ".venv-verl") / "bin" / "python"


def test_token_buffer_equals_the_chat_template_of_the_whole_conversation(tiny):
    _, tokenizer = tiny
    chat = ChatTokens(tokenizer)
    replies = iter(["B", "xx", "C"])

    async def generate(prompt_ids):
        text = next(replies)
        ids = tokenizer.encode(text, add_special_tokens=False)
        return (ids + [tokenizer.eos_token_id], [-0.5] * (len(ids) + 1)) if text != "xx" else (ids, None)

    async def play():
        env = await InlineExecutor().open("agent_envs/Doors-v0", {"n_rooms": 2, "max_episode_steps": 3})
        return await play_token_episode(env, chat, generate, task_id="doors-train-1", max_turns=3,
                                        max_response_tokens=4096)

    episode = asyncio.run(play())
    assert episode.num_turns == 3 and episode.invalid_actions == 1  # "xx" is no door
    # The `aem` estimator finds the turns as the runs of ones of the mask: every env reply leaves a 0 between turns.
    assert int(aem.spans_from_mask(torch.tensor([episode.response_mask])).max()) + 1 == episode.num_turns
    # Replay the same actions and template the whole conversation in one go: the buffer must match token for token.
    replay = gym.make("agent_envs/Doors-v0", n_rooms=2, max_episode_steps=3)
    observation, _ = replay.reset(options={"task_id": "doors-train-1"})
    messages = []
    for action in ("B", "xx", "C"):
        messages += [{"role": "user", "content": observation}, {"role": "assistant", "content": action}]
        observation, *_ = replay.step(action)
    expected = list(tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True)["input_ids"])
    buffer = episode.prompt_ids + episode.response_ids
    assert buffer == expected[: len(buffer)] and expected[len(buffer) :] == chat.after_eos
    assert len(episode.response_ids) == len(episode.response_mask) == len(episode.response_logprobs)
    generated = [t for t, m in zip(episode.response_ids, episode.response_mask, strict=True) if m]
    # "xx" ended without eos: the eos the template needs is an env token (mask 0), not a generated one.
    assert tokenizer.decode(generated) == "B<|im_end|>xxC<|im_end|>"
    assert [lp for lp, m in zip(episode.response_logprobs, episode.response_mask, strict=True) if m] == \
        [-0.5, -0.5, 0.0, 0.0, -0.5, -0.5]


def run_in_verl_venv(script: str) -> list[dict]:
    """Run a check script with the verl venv's interpreter; its JSON lines."""
    if not VERL_PYTHON.exists():
        pytest.fail(f"{VERL_PYTHON} missing: run scripts/install/50-verl.sh and 60-train.sh (verl 0.9.1 venv)")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    proc = subprocess.run([str(VERL_PYTHON), script], cwd=ROOT, capture_output=True, text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def test_verl_agent_loop_and_dry_run_in_the_verl_venv():
    loop, concurrent, dry, bad = run_in_verl_venv("tests/train/verl_checks/run_agent_loop.py")
    assert loop["registered"] and loop["lengths_match"] and loop["masked_logprobs_zero"]
    assert loop["append_only"] and loop["last_prompt_is_buffer"]
    assert loop["success"] == 1.0 and loop["reward"] == 10.0 and loop["turns"] == 3  # doors-train-5: door C
    assert loop["generated_text"] == "A<|im_end|>B<|im_end|>C<|im_end|>"
    assert {"prompts", "responses", "response_mask", "rollout_log_probs"} <= set(loop["as_dict_keys"])
    # Env steps ran off the event loop: all 8 trajectories had a step in flight at the same time (a barrier in the
    # env's first step lets them through only then), and the pool is sized to the worker's 8 trajectories.
    assert concurrent["pool_size"] == 8 and concurrent["trajectories"] == 8 and concurrent["all_stepped"]
    assert concurrent["max_steps_in_flight"] == 8 and concurrent["steps"] == 16
    assert dry["adv_estimator"] == "aem" and dry["agent_loop"] == "aemgym_env" and dry["train_rows"] == 2
    assert dry["rollout_n"] == 8 and dry["use_critic"] is False
    assert bad["bad_estimator_rejected"] is True


def test_verl_trainer_hooks_forward_entropy_to_the_per_turn_estimator():
    (checks,) = run_in_verl_venv("tests/train/verl_checks/trainer_hooks.py")
    failed = sorted(name for name, ok in checks.items() if ok is not True)
    assert not failed, f"trainer-hook checks failed: {failed}"
    assert len(checks) == 9
