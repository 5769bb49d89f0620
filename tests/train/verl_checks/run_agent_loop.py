"""Run inside .venv-verl (verl 0.9.1): the `aemgym_env` agent loop on Doors with a scripted token server, 8
concurrent trajectories on an env whose steps sleep, and the launch recipe's dry run. Prints JSON lines."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

from omegaconf import OmegaConf
from verl.experimental.agent_loop.agent_loop import _agent_loop_registry

from harness.models.tiny import byte_tokenizer
from harness.verl.agent_loop import AGENT_NAME, GymEnvAgentLoop, env_pool_size
from tests.train.verl_checks import sleepy_env

tokenizer = byte_tokenizer()
# 2 tasks × n = 4 on one agent-loop worker: 8 trajectories at once, so the env pool has 8 threads.
CONFIG = OmegaConf.create({"data": {"train_batch_size": 2},
                           "actor_rollout_ref": {"rollout": {"n": 4, "agent": {"num_workers": 1}}}})


class ScriptedServer:
    """Answers the door letters of `script` in turn (each turn ends with eos), log-prob -1 per token."""

    def __init__(self, script: list[str]):
        self.prompts: list[list[int]] = []
        self.answers = iter(script)

    async def generate(self, request_id, prompt_ids, sampling_params, **kwargs):
        self.prompts.append(list(prompt_ids))
        ids = tokenizer.encode(next(self.answers), add_special_tokens=False) + [tokenizer.eos_token_id]
        return SimpleNamespace(token_ids=ids, log_probs=[-1.0] * len(ids))


def make_loop(server: ScriptedServer) -> GymEnvAgentLoop:
    """The agent loop without verl's trainer/server wiring: run() needs only these four attributes."""
    loop = GymEnvAgentLoop.__new__(GymEnvAgentLoop)
    loop.server_manager, loop.tokenizer, loop.config = server, tokenizer, CONFIG
    loop.rollout_config = SimpleNamespace(response_length=512)
    return loop


loop = make_loop(ScriptedServer(["A", "B", "C", "D"] * 4))
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

# 8 concurrent trajectories on an env whose steps sleep: each env's first step waits (threading.Barrier) until all
# 8 first steps are in flight, which happens only if env calls run off the event loop, concurrently.
async def concurrent(count: int) -> list:
    spec = {"env_id": sleepy_env.ENV_ID, "task_id": "doors-train-5", "max_turns": 2, "env_kwargs": json.dumps(
        {"seconds": 0.05, "gather": count, "gather_timeout": 60, "n_rooms": 1, "max_episode_steps": 2})}
    loops = [make_loop(ScriptedServer(["A", "B"])) for _ in range(count)]
    return await asyncio.gather(*(one.run({"temperature": 1.0}, extra_info=spec) for one in loops))


sleepy_env.reset_stats()
outputs = asyncio.run(concurrent(8))
print(json.dumps({"pool_size": env_pool_size(CONFIG), "trajectories": len(outputs),
                  "max_steps_in_flight": sleepy_env.STATS["max_in_flight"], "steps": sleepy_env.STATS["steps"],
                  "all_stepped": all(o.extra_fields["env_turns"] >= 1 for o in outputs)}))

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
