"""A short RL run of the embedded SmolLM2-135M-Instruct with LoRA on ALFWorld's bundled mini games (not CI).

    .venv/bin/python benchmarks/train_smollm2_lora.py --iterations 2 --out runs/smollm2_lora

Shows the whole pipeline on a real chat model: the env's verl-agent prompt with history, token-exact samples from
the batched local sampler, GRPO+AEM advantages, PPO-clip on LoRA adapters (peft) with the k3 KL to the adapter-free
base model, checkpoints. Slow on CPU (~50 train tokens/s, training.md §4): a few iterations take minutes. Prints
the per-iteration metrics it wrote to `<out>/metrics.jsonl`. SmolLM2-135M writes no valid ALFWorld action, so all
advantages are 0 and no optimizer step is taken (grad_norm 0); `configs/doors_smollm2_lora.yaml` shows the same model
and pipeline learning (harness/train/README.md).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from harness.config import LEARNER_PRESETS, TrainConfig, load_config
from harness.train.loop import Trainer


def main() -> None:
    """Run the short LoRA training and print its metrics."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--out", type=Path, default=None, help="run directory (default: a new one under runs/train)")
    parser.add_argument("--learner", default="aem")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args()
    advantage, modulator = LEARNER_PRESETS[args.learner]
    specs = [
        "env.id=agent_envs/ALFWorld-v0", "env.max_steps=3", "env.split=train", "env.eval_split=train",
        "prompt.template=verl_agent", "prompt.history_length=2", "prompt.system_prompt=null",
        "policy.name=smollm2", "policy.max_new_tokens=48", "policy.max_prompt_tokens=1024", "policy.temperature=1.0",
        "model.lora_rank=8", "model.lora_alpha=16", "rollout.samples=2", "rollout.executor=inline",
        "loop.tasks_per_iter=1", "learner.lr=1e-4", "learner.ppo_epochs=1", "learner.micro_batch_size=2",
        f"learner.advantage={advantage}", f"learner.modulator={modulator}",
        "learner.kl_coef=0.01", "loop.eval_every=0", "loop.checkpoint_every=1", "loop.keep_checkpoints=1",
        f"loop.iterations={args.iterations}", *([f"output.dir={args.out}"] if args.out else []), *args.overrides,
    ]
    cfg = load_config(TrainConfig, specs)
    started = time.perf_counter()
    trainer = Trainer(cfg)
    print(f"setup {time.perf_counter() - started:.1f}s; trainable params "
          f"{sum(p.numel() for p in trainer.model.parameters() if p.requires_grad):,}", flush=True)
    for row in trainer.run():
        keep = {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()
                if k.split("/")[-1] in ("iteration", "success", "invalid_frac", "samples", "response_tokens",
                                        "token_entropy", "alpha_std", "kl_ref", "pg_loss", "learner_tokens_per_s",
                                        "learner_time_s", "rollout_time_s", "gen_tokens_per_s", "grad_norm")}
        print(json.dumps(keep), flush=True)
    print(f"total {time.perf_counter() - started:.1f}s; checkpoint {trainer.run_dir / 'checkpoints'}")


if __name__ == "__main__":
    main()
