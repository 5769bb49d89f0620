"""The one run configuration of `aemgym bench` and `aemgym train` (and of the Python API behind them).

A configuration is built from a list of specs applied in order, the same syntax for every command:

    cfg = load_config(BenchConfig, ["my.yaml", "policy.temperature=0.7", "env.kwargs={n_rooms: 3}"])

Each spec is a YAML file (or a run's stored `config.json`) or a dotted `section.key=value` override whose value is
parsed as YAML. Command-line flags are shorthands for dotted overrides and are applied last. Sections:

| section | what |
|---|---|
| `env` | env id, constructor kwargs, split, tasks, turn limit |
| `policy` | who answers (`smollm2`, `tiny`, `hf:<dir>`, `openai[:model]`, `expert`, `random`, `pkg.mod:Class`) |
| `model` | how a local model is built (tiny sizes, dtype, LoRA) |
| `prompt` | scaffold (`chat`, `verl_agent`, `react`, `tools`), template, history, system prompt, context budget |
| `rollout` | samples per task, concurrency, env executor |
| `output` | run directory, resume |
| `learner`, `loop` | training only (`TrainConfig`) |
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

#: Local-model policy names; `hf:<dir>` is local too.
LOCAL_POLICIES = ("tiny", "smollm2")


class Section(BaseModel):
    """A config section: unknown keys are errors, attribute docstrings document the keys."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class EnvSection(Section):
    """The environment and which of its tasks are played."""

    id: str = "agent_envs/Doors-v0"
    """Registered env id or short name (`doors`, `alfworld`, ...)."""
    kwargs: dict[str, Any] = Field(default_factory=dict)
    """Env constructor arguments (`gymnasium.make` kwargs); they also select the task set."""
    split: str | None = None
    """Split played by `bench` (None: `test`, else `valid`, else `train`, whichever the env has); the training split
    of `train`."""
    eval_split: str = "valid"
    """Evaluation split of `train`."""
    n_tasks: int | None = 10
    """`bench`: the first N tasks of the split in canonical order (None = all)."""
    task_ids: list[str] | None = None
    """Explicit task ids (override `split` / `n_tasks` for `bench`)."""
    max_steps: int | None = None
    """Turn limit (None = the env's registered `max_episode_steps`)."""

    def make_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `gymnasium.make` (constructor kwargs plus the turn limit)."""
        kwargs = dict(self.kwargs)
        if self.max_steps is not None:
            kwargs["max_episode_steps"] = self.max_steps
        return kwargs


class PolicySection(Section):
    """Who answers, and how it samples. None means the policy's own default."""

    name: str = "smollm2"
    """`smollm2`, `tiny`, `hf:<dir>`, `openai[:model]`, `expert`, `random`, `scripted` or `pkg.module:Class`."""
    args: dict[str, Any] = Field(default_factory=dict)
    """More constructor arguments of the policy."""
    temperature: float | None = None
    """Sampling temperature (0 = greedy)."""
    top_p: float | None = None
    """Nucleus sampling mass."""
    max_new_tokens: int | None = None
    """Most tokens per response."""
    stop: list[str] | None = None
    """Stop strings."""
    seed: int | None = None
    """Sampling seed."""
    base_url: str | None = None
    """OpenAI-compatible endpoint (`openai`; default `$AEMGYM_BASE_URL`). The API key is never stored: pass it as
    `--api-key` or `$AEMGYM_API_KEY`."""
    model: str | None = None
    """Model name on the endpoint (`openai`; default `$AEMGYM_MODEL` or the server's first model)."""
    allowed_tokens: list[str] | None = None
    """Local models: constrained decoding to these strings (each one token); training uses the same restriction."""
    max_prompt_tokens: int | None = None
    """Local models: longer prompts keep their last tokens."""
    max_batch: int | None = None
    """Local models: most prompts generated together (default: the rollout concurrency)."""
    threads: int | None = None
    """Local models on a CPU: torch threads of sampling (None: 1 on machines with up to 4 cores, where more threads
    made SmolLM2 up to 10x slower under load, else torch's default)."""

    @property
    def is_local(self) -> bool:
        """Whether the policy is a local model (weights in this process)."""
        return self.name in LOCAL_POLICIES or self.name.startswith("hf:")


class ModelSection(Section):
    """How a local model is built: the policy's own (`policy.name` tiny, smollm2 or hf:<dir>), or the model a
    training run updates while rollouts come from a server.
    """

    name: str | None = None
    """`tiny`, `smollm2` or `hf:<dir>`; taken from `policy.name` when the policy is a local model."""
    seed: int = 0
    """Initial-weights seed of the tiny model."""
    hidden_size: int = 64
    """Tiny model width."""
    num_layers: int = 2
    """Tiny model depth."""
    dtype: Literal["float32", "bfloat16"] = "float32"
    """Parameter dtype; training uses bf16 autocast when `bfloat16`."""
    device: str | None = None
    """torch device (None: cuda when available, else cpu)."""
    lora_rank: int = 0
    """LoRA rank (0 = full fine-tuning). Needs `peft`."""
    lora_alpha: int = 32
    """LoRA alpha."""
    lora_targets: list[str] = Field(default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])
    """Module names LoRA adapts."""
    warm_start_steps: int = 0
    """Training only: behaviour-cloning steps on random valid codes of a code env (Codes) before RL, so the model
    knows the format but not the hint (`harness/train/warmstart.py`; cached; prompt `{observation}`, no system
    prompt). 0 = none."""


#: The agent scaffolds (`harness.scaffolds`).
Scaffold = Literal["chat", "verl_agent", "react", "tools"]


class PromptSection(Section):
    """How each turn's messages are built."""

    scaffold: Scaffold = "chat"
    """`chat`: the whole conversation (system, task, each response as an assistant message, each observation as a
    user message); `verl_agent`: one message with the task and the last `history_length` pairs (the RL default);
    `react`: the conversation with Thought/Action replies (AgentBench, AgentGym); `tools`: the conversation with
    OpenAI tool calls (for endpoints that support them)."""
    template: str | None = None
    """The main template: a name in the env's `PROMPTS`, a literal `str.format` template (contains `{`), or None (the
    scaffold's own)."""
    history_length: int = 2
    """`verl_agent`: past (observation, action) pairs shown (verl-agent: 2)."""
    system_prompt: str | None = None
    """The system message (None = the scaffold's or env's, "" = none)."""
    max_observation_chars: int = 6000
    """`verl_agent`: longer observations keep their head and tail."""
    context_tokens: int | None = None
    """Conversation scaffolds: most tokens a prompt may have (None: the local model's limit minus the response
    length; remote models: no limit here, a server's refusal ends the episode the same way). Counted with the local
    model's tokenizer, else estimated (4 characters per token + 4 per message)."""
    on_context_full: Literal["truncate", "drop"] = "truncate"
    """When the next prompt would not fit: `truncate` ends the episode (truncated, reason "context"); `drop` first
    replaces the oldest observations by a marker."""


class TrainPromptSection(PromptSection):
    """How each turn's messages are built in training (the verl-agent prompt unless said otherwise)."""

    scaffold: Scaffold = "verl_agent"
    """See `PromptSection.scaffold`; training defaults to verl-agent's prompt, whose length does not grow."""


class RolloutSection(Section):
    """How episodes are played."""

    samples: int = 1
    """Episodes per task (`bench -k`; the group size G of `train`)."""
    concurrency: int = 8
    """Most episodes in flight."""
    executor: str = "auto"
    """Where envs run: `auto` (the env's own choice: processes for engines with a process-wide lock, threads for
    I/O-bound envs), `thread`, `inline`, `process`, `ray`, or a dotted path. One executor serves the whole run."""
    workers: int | None = None
    """Worker processes of `process` (None: min(concurrency, cores)); actors of `ray` (None: the cluster's CPUs)."""
    step_timeout_s: float | None = 3600.0
    """Limit of one env reset or step; a hung step fails its episode and its process worker is replaced."""
    retry_errors: bool = True
    """On resume, play again the episodes that ended in an infrastructure error (endpoint down, env crashed)."""


class OutputSection(Section):
    """Where the run is stored."""

    dir: str | None = None
    """Run directory (None: a new unique directory under `runs/`)."""
    resume: bool = False
    """Continue the run in `dir`: refused when its stored configuration differs in anything that changes results."""


class BenchConfig(Section):
    """`aemgym bench`: play tasks with a policy, store every turn, report."""

    env: EnvSection = Field(default_factory=EnvSection)
    policy: PolicySection = Field(default_factory=PolicySection)
    model: ModelSection = Field(default_factory=ModelSection)
    prompt: PromptSection = Field(default_factory=PromptSection)
    rollout: RolloutSection = Field(default_factory=RolloutSection)
    output: OutputSection = Field(default_factory=OutputSection)

    command: Literal["bench", "train"] = "bench"
    """Which command this configuration is for (stored with the run)."""

    @model_validator(mode="after")
    def _model_of_local_policy(self) -> BenchConfig:
        if self.policy.is_local:
            if self.model.name not in (None, self.policy.name):
                raise ValueError(f"model.name {self.model.name!r} differs from the local policy {self.policy.name!r}")
            self.model.name = self.policy.name
        return self


class LearnerSection(Section):
    """The policy update (see `harness/train/learner.py`)."""

    advantage: str = "grpo"
    """Base advantage estimator, by its `aem` registry name (`grpo`, `drgrpo`, `rloo`, `gigpo`)."""
    modulator: str = "none"
    """Advantage modulator, by its `aem` registry name (`none`, `aem`, `empg`)."""
    norm_by_std: bool = True
    """GRPO / GiGPO: divide by the group std."""
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
    """Stop the update's remaining PPO steps once a mini-batch's KL to the rollout policy (k3) exceeds 1.5× this."""
    grad_clip: float = 1.0
    """Global gradient-norm clip."""
    aem_lam: float = 1.0
    """AEM λ."""
    aem_min_range: float = 0.1
    """AEM degenerate-range guard: a scope whose proxy range is below it gets α = 1."""
    aem_scope: Literal["group", "trajectory", "batch"] = "group"
    """Over which samples AEM normalises the proxy and α: the task group (the paper), each trajectory, the batch."""
    aem_variant: Literal["aem", "reversed", "shuffled"] = "aem"
    """`aem`; `reversed` (amplifies high-entropy responses instead); `shuffled` (α permuted within each scope: the
    same α values carrying no information about the response) — the ablations."""
    ratio: Literal["token", "sequence"] = "token"
    """Importance ratio: per token (PPO) or per response (GSPO)."""
    exact_diagnostics: bool = False
    """With constrained decoding over a small alphabet (Codes): the exact relative surprisal S − H of each first-turn
    response by enumeration, and its correlation and sign agreement with α − 1, per iteration."""
    measure_entropy_change: bool = False
    """After each update, recompute the batch's response entropy and log the realised change next to the sign the
    theory predicts (one more forward pass over the batch)."""
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


    @field_validator("advantage", "modulator")
    @classmethod
    def _registered(cls, name: str, info: ValidationInfo) -> str:
        import aem  # the registries: names registered by plug-ins count too

        names = aem.list_estimators() if info.field_name == "advantage" else aem.list_modulators()
        if name not in names:
            raise ValueError(f"unknown {info.field_name} {name!r}; registered: {', '.join(names)}")
        return name


class LoopSection(Section):
    """The training loop."""

    iterations: int = 40
    """Training iterations."""
    tasks_per_iter: int = 4
    """Tasks (groups) sampled per iteration; each is played `rollout.samples` times."""
    eval_every: int = 10
    """Evaluate every N iterations (0 = never; the last iteration is always evaluated when > 0)."""
    eval_tasks: int = 32
    """Tasks per evaluation (one episode each)."""
    eval_temperature: float = 0.4
    """Sampling temperature of evaluation episodes."""
    checkpoint_every: int = 5
    """Checkpoint every N iterations."""
    keep_checkpoints: int = 2
    """Checkpoints kept on disk."""
    seed: int = 0
    """Seed of task sampling, sampling and the optimizer's data order."""
    tensorboard: bool = False
    """Also log to tensorboard (needs `tensorboard`)."""
    wandb: bool = False
    """Also log to Weights & Biases (needs `wandb`, offline unless configured)."""
    threads: int = 1
    """torch intra-op threads (1 is fastest for tiny models on small machines)."""


class TrainConfig(BenchConfig):
    """`aemgym train`: RL on an env with a local model (or rollouts from a server)."""

    env: EnvSection = Field(default_factory=lambda: EnvSection(split="train"))
    policy: PolicySection = Field(default_factory=lambda: PolicySection(name="tiny"))
    prompt: TrainPromptSection = Field(default_factory=TrainPromptSection)
    learner: LearnerSection = Field(default_factory=LearnerSection)
    loop: LoopSection = Field(default_factory=LoopSection)

    command: Literal["bench", "train"] = "train"
    """Which command this configuration is for (stored with the run)."""

    @model_validator(mode="after")
    def _trainable_model(self) -> TrainConfig:
        if not self.policy.is_local and not self.policy.name.startswith("openai"):
            raise ValueError(f"training samples from the model it trains (policy.name tiny, smollm2 or hf:<dir>) or "
                             f"from an OpenAI-compatible server (openai); not {self.policy.name!r}")
        if self.model.name is None or not (self.model.name in LOCAL_POLICIES or self.model.name.startswith("hf:")):
            raise ValueError("training with policy.name=openai needs model.name: the local model it updates")
        return self


class GradingSection(Section):
    """How `aemgym swebench eval` grades predictions."""

    backend: Literal["local", "docker"] = "local"
    """`local` (bubblewrap over cached templates) or `docker` (official images)."""
    data: str | None = None
    """Instance file or directory (default `$AEMGYM_SWEBENCH_DATA`; none: the synthetic instance)."""
    repos_dir: str | None = None
    """Local clones `<owner>__<name>` for the local backend."""
    cache_dir: str | None = None
    """Template cache (default `~/.cache/aemgym/swebench`)."""
    python: str | None = None
    """Interpreter for local templates (default: pyenv's matching version)."""
    docker_url: str | None = None
    """Docker engine for the docker backend (default `$DOCKER_HOST`)."""
    timeout_s: float = 1800.0
    """Seconds for each eval script."""
    network: bool = False
    """Let local grading reach the network (a patch's new dependencies can then be installed)."""


class SWEBenchEvalConfig(Section):
    """`aemgym swebench eval`: grade a predictions file."""

    grading: GradingSection = Field(default_factory=GradingSection)
    rollout: RolloutSection = Field(default_factory=lambda: RolloutSection(concurrency=1))
    output: OutputSection = Field(default_factory=lambda: OutputSection(dir="swebench-eval"))

    command: Literal["swebench-eval"] = "swebench-eval"
    """Which command this configuration is for."""


#: `aemgym train --learner NAME` presets: (base advantage estimator, advantage modulator).
LEARNER_PRESETS: dict[str, tuple[str, str]] = {
    "grpo": ("grpo", "none"),
    "aem": ("grpo", "aem"),
    "empg": ("grpo", "empg"),
    "drgrpo": ("drgrpo", "none"),
    "drgrpo_aem": ("drgrpo", "aem"),
    "rloo": ("rloo", "none"),
    "rloo_aem": ("rloo", "aem"),
    "gigpo": ("gigpo", "none"),
    "gigpo_aem": ("gigpo", "aem"),
}

#: Keys that may differ when a run is resumed: they change how fast or where a run goes, not its results.
NOT_RESULT_KEYS = (
    "output", "rollout.concurrency", "rollout.executor", "rollout.workers", "rollout.step_timeout_s",
    "rollout.retry_errors", "policy.max_batch", "policy.threads", "loop.iterations", "loop.tensorboard", "loop.wandb",
    "loop.threads", "loop.checkpoint_every", "loop.keep_checkpoints",
)

#: Keys added after runs were stored, with the value those runs behaved as (resuming them keeps working).
ADDED_KEYS: dict[str, Any] = {"prompt.scaffold": "verl_agent", "prompt.context_tokens": None,
                              "prompt.on_context_full": "truncate"}

#: Keys of the training config before the unification (old YAML files keep working, with a warning).
LEGACY_KEYS = {
    "env.prompt": "prompt.template",
    "env.history_length": "prompt.history_length",
    "env.system_prompt": "prompt.system_prompt",
    "env.train_split": "env.split",
    "rollout.group_size": "rollout.samples",
    "rollout.tasks_per_iter": "loop.tasks_per_iter",
    "rollout.temperature": "policy.temperature",
    "rollout.eval_temperature": "loop.eval_temperature",
    "rollout.max_new_tokens": "policy.max_new_tokens",
    "rollout.max_prompt_tokens": "policy.max_prompt_tokens",
    "rollout.allowed_tokens": "policy.allowed_tokens",
    "rollout.max_batch": "policy.max_batch",
    "rollout.base_url": "policy.base_url",
    "rollout.server_model": "policy.model",
    "loop.output_dir": "output.dir",
}

ConfigT = TypeVar("ConfigT", bound=Section)


def set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    """Set `tree["a"]["b"] = value` for `dotted == "a.b"`, creating sections as needed."""
    keys = dotted.split(".")
    node = tree
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"cannot set {dotted!r}: {key!r} is not a section")
    node[keys[-1]] = value


def _merge(base: dict[str, Any], update: dict[str, Any], path: str = "") -> dict[str, Any]:
    for key, value in update.items():
        dotted = f"{path}{key}"
        if isinstance(value, dict) and isinstance(base.get(key), dict) and not dotted.endswith(("kwargs", "args")):
            _merge(base[key], value, dotted + ".")
        else:
            base[key] = value
    return base


def _flatten(tree: dict[str, Any], path: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in tree.items():
        dotted = f"{path}{key}"
        if isinstance(value, dict) and not dotted.endswith(("kwargs", "args")) and value:
            out.update(_flatten(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _upgrade(tree: dict[str, Any], source: str) -> dict[str, Any]:
    """Rename the keys of the old training config (with one warning naming the new keys)."""
    flat = _flatten(tree)
    renamed = {old: new for old, new in LEGACY_KEYS.items() if old in flat}
    backend = flat.pop("rollout.backend", None)
    kind = flat.pop("model.kind", None)
    path = flat.pop("model.path", None)
    if not renamed and backend is None and kind is None:
        return tree
    out: dict[str, Any] = {}
    for key, value in flat.items():
        set_dotted(out, renamed.get(key, key), value)
    if kind is not None:
        set_dotted(out, "model.name", f"hf:{path}" if kind == "hf" else kind)
        set_dotted(out, "policy.name", f"hf:{path}" if kind == "hf" else kind)
    if backend == "openai":
        set_dotted(out, "policy.name", "openai")
    notes = [f"{old} -> {new}" for old, new in renamed.items()]
    notes += ["model.kind -> model.name and policy.name"] if kind is not None else []
    notes += ["rollout.backend -> policy.name (openai)"] if backend is not None else []
    warnings.warn(f"{source}: old config keys renamed ({', '.join(notes)}); please update the file",
                  DeprecationWarning, stacklevel=3)
    return out


def _read_file(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: a config file holds a mapping of sections")
    if isinstance(data.get("config"), dict) and "schema_version" in data:  # a run's stored config.json
        data = data["config"]
        for key, value in ADDED_KEYS.items():
            if key not in _flatten(data):
                set_dotted(data, key, value)
    data.pop("command", None)
    return _upgrade(data, str(path))


def load_config(cls: type[ConfigT], specs: list[str] | None = None,
                overrides: dict[str, Any] | None = None) -> ConfigT:
    """Build a config from YAML files and `a.b=value` specs, applied in order, then `overrides` (flags).

    Args:
        cls: `BenchConfig` or `TrainConfig`.
        specs: YAML paths or dotted overrides.
        overrides: dotted key -> value pairs applied last; None values are skipped (unset flags).

    Raises:
        FileNotFoundError: a spec is neither an existing file nor a `key=value` override.
        ValueError: unknown keys or bad values (pydantic's message names them).
    """
    tree: dict[str, Any] = {}
    for spec in specs or []:
        path = Path(spec)
        if path.is_file():
            _merge(tree, _read_file(path))
        elif "=" in spec:
            key, _, raw = spec.partition("=")
            key = LEGACY_KEYS.get(key.strip(), key.strip())
            set_dotted(tree, key, yaml.safe_load(raw))
        else:
            raise FileNotFoundError(f"config file not found: {spec} (a config spec is a YAML file or key=value)")
    for key, value in (overrides or {}).items():
        if value is not None:
            set_dotted(tree, key, value)
    return cls.model_validate(tree)


def to_yaml(config: BaseModel) -> str:
    """The config as YAML, in section order."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, allow_unicode=True)


def result_diff(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The keys whose values differ between two dumped configs, ignoring `NOT_RESULT_KEYS`, as `key: old -> new`."""
    flat_old, flat_new = _flatten(old), _flatten(new)
    lines = []
    for key in sorted(set(flat_old) | set(flat_new)):
        if any(key == k or key.startswith(k + ".") for k in NOT_RESULT_KEYS):
            continue
        a, b = flat_old.get(key, ADDED_KEYS.get(key, "<unset>")), flat_new.get(key, "<unset>")
        if json.dumps(a, sort_keys=True, default=str) != json.dumps(b, sort_keys=True, default=str):
            lines.append(f"{key}: {a!r} -> {b!r}")
    return lines
