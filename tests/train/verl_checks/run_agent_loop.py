"""Run inside .venv-verl (verl 0.9.1): the `aemgym_env` agent loop on Doors with a scripted token server."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from verl.experimental.agent_loop.agent_loop import _agent_loop_registry

from harness.models.tiny import byte_tokenizer
from harness.verl.agent_loop import AGENT_NAME, GymEnvAgentLoop

tokenizer = byte_tokenizer()
answers = iter(["A", "B", "C", "D"] * 4)


class ScriptedServer:
    """Answers door letters in order A, B, C, D, ... (always ending the turn with eos) with log-prob -1 per token."""

    def __init__(self):
        self.prompts: list[list[int]] = []

    async def generate(self, request_id, prompt_ids, sampling_params, **kwargs):
        self.prompts.append(list(prompt_ids))
        ids = tokenizer.encode(next(answers), add_special_tokens=False) + [tokenizer.eos_token_id]
        return SimpleNamespace(token_ids=ids, log_probs=[-1.0] * len(ids))


loop = GymEnvAgentLoop.__new__(GymEnvAgentLoop)  # skip the trainer/server wiring; run() needs only these three
loop.server_manager = ScriptedServer()
loop.tokenizer = tokenizer
loop.rollout_config = SimpleNamespace(response_length=512)
extra = {"env_id": "agent_envs/Doors-v0", "task_id": "doors-train-5",
         "env_kwargs": json.dumps({"n_rooms": 1, "max_episode_steps": 4}), "max_turns": 4}
out = asyncio.run(loop.run({"temperature": 1.0}, extra_info=extra))
generated = [t for t, m in zip(out.response_ids, out.response_mask, strict=True) if m == 1]
prompts = loop.server_manager.prompts
print(json.dumps({
    "registered": AGENT_NAME in _agent_loop_registry,
    "reward": out.reward_score, "success": out.extra_fields["success"], "turns": out.extra_fields["env_turns"],
    "lengths_match": len(out.response_ids) == len(out.response_mask) == len(out.response_logprobs),
    "generated_text": tokenizer.decode(generated),
    "masked_logprobs_zero": all(
        lp == 0.0 for lp, m in zip(out.response_logprobs, out.response_mask, strict=True) if m == 0
    ),
    "append_only": all(p2[: len(p1)] == p1 for p1, p2 in zip(prompts, prompts[1:], strict=False)),
    "last_prompt_is_buffer": prompts[-1]
    == out.prompt_ids + out.response_ids[: len(prompts[-1]) - len(out.prompt_ids)],
    "as_dict_keys": sorted(out.as_dict()),
}))

# The launch recipe's dry run: verl's own config composition + validate_config + registry checks.
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from harness.verl.launch import dry_run, overrides, write_dataset  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    train = write_dataset(Path(tmp) / "train.parquet", "agent_envs/Doors-v0", ["doors-train-0", "doors-train-1"],
                          env_kwargs={"n_rooms": 2})
    report = dry_run(overrides(model="/models/any", train_file=train, val_file=train, gpus=8, out_dir=Path(tmp)))
    print(json.dumps(report))
    try:
        dry_run(overrides(model="/m", train_file=train, val_file=train, estimator="no_such_estimator"))
        print(json.dumps({"bad_estimator_rejected": False}))
    except Exception as exc:  # noqa: BLE001 - any rejection is what we want
        print(json.dumps({"bad_estimator_rejected": True, "error": type(exc).__name__}))
sys.stdout.flush()
