"""Typed training configuration: YAML sections `env / model / rollout / learner / loop`, plus dotted overrides.

    cfg = load_config(["configs/doors_aem.yaml", "learner.lr=3e-3", "loop.iterations=20"])

Each item of the list is either a YAML file or a `section.key=value` override (the value is parsed as YAML, so
`loop.iterations=20` is an int and `env.kwargs={n_rooms: 2}` a dict). Later items win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

#: What `aemgym train` runs without `--config`: the CPU proof (tiny byte model on Doors).
CPU_PROOF_CONFIG = Path(__file__).parent / "configs" / "doors_tiny.yaml"

#: `--learner NAME` presets: (base advantage estimator, advantage modulator).
LEARNER_PRESETS: dict[str, tuple[str, str]] = {
    "grpo": ("grpo", "none"),
    "aem": ("grpo", "aem"),
    "empg": ("grpo", "empg"),
    "rloo": ("rloo", "none"),
    "rloo_aem": ("rloo", "aem"),
    "gigpo": ("gigpo", "none"),
    "gigpo_aem": ("gigpo", "aem"),
}


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class EnvConfig(_Section):
    id: str = "agent_envs/Doors-v0"
    """Registered env id."""
    kwargs: dict[str, Any] = Field(default_factory=lambda: {"n_rooms": 2, "n_doors": 4, "max_episode_steps": 4})
    """Env constructor kwargs (passed to `gymnasium.make`; `max_episode_steps` is allowed here)."""
    train_split: str = "train"
    """Split sampled for training rollouts."""
    eval_split: str = "valid"
    """Split used for periodic evaluation."""
    prompt: str | None = "{observation}"
    """Prompt template: a literal `str.format` template (contains `{`), a template name in the env's `PROMPTS`, or
    None for the env's default. The default suits the tiny byte model (short context): just the observation."""
    history_length: int = 0
    """Past (observation, action) pairs shown in the prompt (verl-agent: 2)."""
    system_prompt: str | None = ""
    """System message ("" = none, None = the harness default)."""


class ModelConfig(_Section):
    kind: Literal["tiny", "smollm2", "hf"] = "tiny"
    """`tiny`: random byte-level Llama built in code; `smollm2`: the embedded SmolLM2-135M; `hf`: `path`."""
    path: str | None = None
    """Hugging Face model directory for kind `hf`."""
    seed: int = 0
    """Initial-weights seed for the tiny model."""
    hidden_size: int = 64
    """Tiny model width."""
    num_layers: int = 2
    """Tiny model depth."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """Parameter dtype; bf16 autocast is used for forward passes when `bfloat16` and supported."""
    lora_rank: int = 0
    """LoRA rank (0 = full fine-tuning). Needs `peft`."""
    lora_alpha: int = 32
    """LoRA alpha."""
    lora_targets: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    """Module names LoRA adapts."""


class RolloutConfig(_Section):
    backend: Literal["local", "openai"] = "local"
    """`local`: batched sampling from the model being trained (shared weights); `openai`: an OpenAI-style server."""
    base_url: str | None = None
    """Server URL for the `openai` backend."""
    server_model: str | None = None
    """Model name on the server."""
    tasks_per_iter: int = 4
    """Tasks (groups) sampled per iteration."""
    group_size: int = 8
    """Rollouts per task (G)."""
    temperature: float = 1.0
    """Sampling temperature for training rollouts."""
    eval_temperature: float = 0.4
    """Sampling temperature for evaluation."""
    max_new_tokens: int = 2
    """Response length limit per turn."""
    max_prompt_tokens: int = 1024
    """Prompts longer than this keep their last tokens."""
    allowed_tokens: list[str] | None = None
    """Local backend: constrained decoding to these tokens (each string must be one token); the learner's log-probs
    and entropies use the same restriction. None: the whole vocabulary."""
    executor: str = "thread"
    """Env executor of `harness.rollout` (`thread`, `ray`, ...)."""
    concurrency: int = 64
    """Episodes in flight."""
    max_batch: int = 64
    """Largest generation batch of the local backend."""


class LearnerConfig(_Section):
    advantage: str = "grpo"
    """Base advantage estimator (`grpo`, `rloo`, `gigpo`)."""
    modulator: str = "none"
    """Advantage modulator (`none`, `aem`, `empg`)."""
    norm_by_std: bool = True
    """GRPO: divide by the group std."""
    reward_scale: float = 10.0
    """Episode return multiplier (verl-agent: success = 10)."""
    invalid_penalty: float = 0.1
    """Subtracted from a turn's score when its action was invalid (verl-agent: 0.1)."""
    lr: float = 5e-3
    """AdamW learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    ppo_epochs: int = 2
    """Passes over each iteration's samples."""
    mini_batches: int = 1
    """Optimizer steps per epoch."""
    micro_batch_size: int = 128
    """Samples per forward/backward (gradient accumulation inside a mini-batch)."""
    clip_low: float = 0.2
    """PPO clip ε (lower)."""
    clip_high: float = 0.2
    """PPO clip ε (upper)."""
    dual_clip: float | None = 3.0
    """Dual-clip c for negative advantages (None = off)."""
    loss_agg: str = "token-mean"
    """Loss aggregation (`token-mean`, `seq-mean-token-mean`, `seq-mean-token-sum`)."""
    kl_coef: float = 0.0
    """k3 KL to the initial policy (verl-agent: 0.01)."""
    entropy_coef: float = 0.0
    """Token-entropy bonus coefficient."""
    epo: bool = False
    """Add the EPO entropy-smoothing term."""
    target_kl: float | None = None
    """Stop the update's remaining PPO steps once a mini-batch's KL to the rollout policy (k3) exceeds 1.5× this
    (PPO early stopping, as in Stable-Baselines3); None = always run all steps."""
    grad_clip: float = 1.0
    """Global gradient-norm clip."""
    aem_lam: float = 1.0
    """AEM λ."""
    aem_min_range: float = 0.1
    """AEM degenerate-range guard."""
    empg_k: float = 1.0
    """EMPG k."""
    empg_k_future: float = 1.0
    """EMPG k'."""
    empg_zeta: float = 0.1
    """EMPG ζ."""
    gigpo_weight: float = 1.0
    """GiGPO ω."""
    gigpo_gamma: float = 0.95
    """GiGPO step-return discount."""


class LoopConfig(_Section):
    iterations: int = 40
    """Training iterations."""
    eval_every: int = 10
    """Evaluate every N iterations (0 = never; the last iteration is always evaluated when > 0)."""
    eval_tasks: int = 32
    """Tasks per evaluation (one episode each)."""
    checkpoint_every: int = 5
    """Checkpoint every N iterations."""
    keep_checkpoints: int = 2
    """Checkpoints kept on disk."""
    seed: int = 0
    """Seed of task sampling, sampling and the optimizer's data order."""
    output_dir: str = "runs/train/doors_tiny"
    """Run directory (metrics.jsonl, checkpoints/, config.yaml)."""
    tensorboard: bool = False
    """Also log to tensorboard (needs `tensorboard`)."""
    wandb: bool = False
    """Also log to Weights & Biases (needs `wandb`, offline unless configured)."""
    threads: int = 1
    """torch intra-op threads (1 is fastest for tiny models on small machines)."""


class TrainConfig(_Section):
    env: EnvConfig = Field(default_factory=EnvConfig)
    model: ModelConfig = Field(default_factory=ModelConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    learner: LearnerConfig = Field(default_factory=LearnerConfig)
    loop: LoopConfig = Field(default_factory=LoopConfig)

    def to_yaml(self) -> str:
        """The config as YAML (what `config.yaml` in a run directory holds)."""
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"cannot set {dotted!r}: {key!r} is not a section")
    node[keys[-1]] = value


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict) and key != "kwargs":
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def apply_learner_preset(tree: dict[str, Any], name: str) -> None:
    """Set `learner.advantage` / `learner.modulator` from a preset name (see `LEARNER_PRESETS`)."""
    if name not in LEARNER_PRESETS:
        raise ValueError(f"unknown learner {name!r}; choose one of {sorted(LEARNER_PRESETS)}")
    advantage, modulator = LEARNER_PRESETS[name]
    _set_dotted(tree, "learner.advantage", advantage)
    _set_dotted(tree, "learner.modulator", modulator)


def load_config(specs: list[str] | None = None, *, learner: str | None = None) -> TrainConfig:
    """Build a `TrainConfig` from YAML files and `a.b=value` overrides, applied in order.

    Args:
        specs: YAML paths or dotted overrides.
        learner: optional preset name applied before the specs' explicit `learner.*` keys are re-applied.

    Returns:
        The validated config. Raises `ValueError` (pydantic) on unknown keys or bad values.
    """
    tree: dict[str, Any] = {}
    overrides: list[tuple[str, Any]] = []
    for spec in specs or []:
        if "=" in spec and not Path(spec).is_file():
            key, _, raw = spec.partition("=")
            overrides.append((key.strip(), yaml.safe_load(raw)))
        else:
            path = Path(spec)
            if not path.is_file():
                raise FileNotFoundError(f"config file not found: {spec}")
            _merge(tree, yaml.safe_load(path.read_text()) or {})
    if learner is not None:
        apply_learner_preset(tree, learner)
    for key, value in overrides:
        _set_dotted(tree, key, value)
    return TrainConfig.model_validate(tree)
