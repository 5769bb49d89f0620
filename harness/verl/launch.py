r"""Multi-GPU training of our gym envs with verl + AEM: dataset rows, the launch command, and a CPU dry run.

    # in the verl environment (.venv-verl, or your GPU cluster's verl 0.9.x install)
    python -m harness.verl.launch --env agent_envs/ALFWorld-v0 --model Qwen/Qwen2.5-1.5B-Instruct \
        --gpus 8 --out runs/verl_alfworld --dry-run      # writes the dataset, validates, prints the command
    # then run the printed command on the GPU machine (same flags without --dry-run runs it).

The dry run composes verl's own `ppo_trainer` config with our overrides (Hydra), runs verl's `validate_config`,
checks that the `aem` advantage estimator and the `aemgym_env` agent loop are registered, and checks the dataset
rows. It needs no GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

EXTERNAL_MODULES = "aem.adapters.verl,harness.verl.trainer_hooks,harness.verl.agent_loop"


def write_dataset(path: Path, env_id: str, task_ids: list[str], *, env_kwargs: dict[str, Any] | None = None,
                  max_turns: int = 50, reward_scale: float = 10.0, invalid_penalty: float = 0.1) -> Path:
    """A verl RL dataset (parquet): one row per task, routed to the `aemgym_env` agent loop."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = [{
        "data_source": env_id,
        "agent_name": "aemgym_env",
        "prompt": [{"role": "user", "content": f"{env_id} task {task_id}"}],  # unused: the env supplies prompts
        "reward_model": {"style": "rule", "ground_truth": ""},
        "extra_info": {"env_id": env_id, "task_id": task_id, "env_kwargs": json.dumps(env_kwargs or {}),
                       "max_turns": max_turns, "reward_scale": reward_scale, "invalid_penalty": invalid_penalty,
                       "index": i},
    } for i, task_id in enumerate(task_ids)]
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


def overrides(*, model: str, train_file: Path, val_file: Path, gpus: int = 8, nodes: int = 1, group_size: int = 8,
              tasks_per_iter: int = 16, prompt_length: int = 2048, response_length: int = 4096,
              iterations: int = 150, lr: float = 1e-6, estimator: str = "aem", rollout_engine: str = "vllm",
              out_dir: Path = Path("runs/verl")) -> list[str]:
    """Hydra overrides for `python -m verl.trainer.main_ppo` (verl-agent's GRPO hyper-parameters, AEM on top)."""
    return [
        f"algorithm.adv_estimator={estimator}",
        "algorithm.use_kl_in_reward=False",
        f"data.train_files={train_file}",
        f"data.val_files={val_file}",
        f"data.train_batch_size={tasks_per_iter}",
        f"data.max_prompt_length={prompt_length}",
        f"data.max_response_length={response_length}",
        "data.return_raw_chat=True",
        f"actor_rollout_ref.model.path={model}",
        f"actor_rollout_ref.actor.optim.lr={lr}",
        f"actor_rollout_ref.actor.ppo_mini_batch_size={tasks_per_iter}",
        "actor_rollout_ref.actor.ppo_micro_batch_size_per_gpu=2",
        "actor_rollout_ref.actor.use_kl_loss=True",
        "actor_rollout_ref.actor.kl_loss_coef=0.01",
        "actor_rollout_ref.actor.kl_loss_type=low_var_kl",
        "actor_rollout_ref.actor.entropy_coeff=0.001",
        "actor_rollout_ref.actor.clip_ratio_c=3.0",
        "actor_rollout_ref.actor.calculate_entropy=True",
        "actor_rollout_ref.ref.log_prob_micro_batch_size_per_gpu=4",
        f"actor_rollout_ref.rollout.name={rollout_engine}",
        "actor_rollout_ref.rollout.mode=async",
        f"actor_rollout_ref.rollout.n={group_size}",
        "actor_rollout_ref.rollout.temperature=1.0",
        "actor_rollout_ref.rollout.val_kwargs.temperature=0.4",
        "actor_rollout_ref.rollout.val_kwargs.do_sample=True",
        f"actor_rollout_ref.rollout.prompt_length={prompt_length}",
        f"actor_rollout_ref.rollout.response_length={response_length}",
        "actor_rollout_ref.rollout.log_prob_micro_batch_size_per_gpu=4",
        "actor_rollout_ref.rollout.agent.default_agent_loop=aemgym_env",
        f"trainer.n_gpus_per_node={gpus}",
        f"trainer.nnodes={nodes}",
        f"trainer.total_training_steps={iterations}",
        "trainer.test_freq=5",
        "trainer.save_freq=10",
        "trainer.logger=[console]",
        f"trainer.default_local_dir={out_dir}/checkpoints",
        "trainer.project_name=aemgym",
        f"trainer.experiment_name={Path(out_dir).name}",
    ]


def command(over: list[str]) -> str:
    """The shell command that launches training."""
    return (f"VERL_USE_EXTERNAL_MODULES={EXTERNAL_MODULES} {shlex.quote(sys.executable)} -m verl.trainer.main_ppo "
            + " ".join(shlex.quote(o) for o in over))


def dry_run(over: list[str]) -> dict[str, Any]:
    """Compose + validate the config exactly as `verl.trainer.main_ppo` would, without starting anything."""
    os.environ.setdefault("VERL_USE_EXTERNAL_MODULES", EXTERNAL_MODULES)
    import importlib

    for module in EXTERNAL_MODULES.split(","):
        importlib.import_module(module)
    import verl.trainer.main_ppo as main_ppo
    from hydra import compose, initialize_config_dir
    from verl.experimental.agent_loop.agent_loop import _agent_loop_registry
    from verl.trainer.ppo import core_algos
    from verl.trainer.ppo.utils import need_critic, need_reference_policy
    from verl.utils.config import validate_config

    config_dir = str(Path(main_ppo.__file__).parent / "config")
    with initialize_config_dir(config_dir=config_dir, version_base=None):
        cfg = compose(config_name="ppo_trainer", overrides=over)
    validate_config(config=cfg, use_reference_policy=need_reference_policy(cfg), use_critic=need_critic(cfg))
    estimator = cfg.algorithm.adv_estimator
    core_algos.get_adv_estimator_fn(estimator)  # raises if not registered
    loop = cfg.actor_rollout_ref.rollout.agent.default_agent_loop
    if loop not in _agent_loop_registry:
        raise ValueError(f"agent loop {loop!r} not registered; known: {sorted(_agent_loop_registry)}")
    import pyarrow.parquet as pq

    rows = pq.read_table(cfg.data.train_files).to_pylist()
    from harness.verl.agent_loop import env_spec

    specs = [env_spec(r["extra_info"]) for r in rows]
    return {"adv_estimator": estimator, "agent_loop": loop, "train_rows": len(rows), "env_id": specs[0]["env_id"],
            "rollout_n": int(cfg.actor_rollout_ref.rollout.n), "use_critic": bool(need_critic(cfg)),
            "use_reference_policy": bool(need_reference_policy(cfg))}


def main(argv: list[str] | None = None) -> None:
    """CLI: write the dataset, then dry-run (validate + print) or launch."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="agent_envs/Doors-v0")
    parser.add_argument("--env-kwargs", default="{}", help="JSON kwargs for gymnasium.make")
    parser.add_argument("--model", required=True, help="HF model path or id on the GPU machine")
    parser.add_argument("--gpus", type=int, default=8)
    parser.add_argument("--nodes", type=int, default=1)
    parser.add_argument("--train-tasks", type=int, default=512)
    parser.add_argument("--val-tasks", type=int, default=64)
    parser.add_argument("--estimator", default="aem", help="aem, grpo, ... (any registered verl estimator)")
    parser.add_argument("--out", type=Path, default=Path("runs/verl"))
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("override", nargs="*", help="extra Hydra overrides")
    args = parser.parse_args(argv)
    import gymnasium as gym

    import agent_envs  # noqa: F401
    from harness.tasks import text_env

    env_kwargs = json.loads(args.env_kwargs)
    env = gym.make(args.env, **env_kwargs)
    try:
        max_turns = (env.spec.max_episode_steps if env.spec is not None else None) or 50
        task_set = text_env(env).task_set
        train_ids = task_set.task_ids("train")[: args.train_tasks]
        val_ids = task_set.task_ids(task_set.splits()[1] if len(task_set.splits()) > 1 else "train")[: args.val_tasks]
    finally:
        env.close()
    train = write_dataset(args.out / "train.parquet", args.env, train_ids, env_kwargs=env_kwargs, max_turns=max_turns)
    val = write_dataset(args.out / "val.parquet", args.env, val_ids, env_kwargs=env_kwargs, max_turns=max_turns)
    over = overrides(model=args.model, train_file=train, val_file=val, gpus=args.gpus, nodes=args.nodes,
                     estimator=args.estimator, out_dir=args.out) + list(args.override)
    if args.dry_run:
        print(json.dumps(dry_run(over), indent=2))
        print(command(over))
        return
    env_vars = {**os.environ, "VERL_USE_EXTERNAL_MODULES": EXTERNAL_MODULES}
    raise SystemExit(subprocess.call([sys.executable, "-m", "verl.trainer.main_ppo", *over], env=env_vars))


if __name__ == "__main__":
    main()
