"""Policies: messages in, one response out. `build_policy(config)` is the one place a policy is made from a spec.

| `policy.name` | policy |
|---|---|
| `smollm2`, `tiny`, `hf:<dir>` | `LocalPolicy` over `harness.models.load_model`: the embedded SmolLM2-135M-Instruct, |
| | a random 0.16 M-parameter byte model, a local checkpoint directory |
| `openai` / `openai:<model>` | `OpenAIPolicy` (URL / key / model from the config or `AEMGYM_*` / `OPENAI_*` env vars) |
| `expert`, `random`, `scripted` | `ExpertPolicy`, `RandomPolicy`, `ScriptedPolicy` |
| `pkg.module:Factory` or `pkg.module.Factory` | any class or function returning a policy, called with `policy.args` |
"""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any

from harness.config import ModelSection, PolicySection
from harness.types import Policy

POLICIES: dict[str, str] = {
    "openai": "harness.policies.openai_compat:OpenAIPolicy",
    "expert": "harness.policies.scripted:ExpertPolicy",
    "random": "harness.policies.scripted:RandomPolicy",
    "scripted": "harness.policies.scripted:ScriptedPolicy",
}
#: Sampling defaults of local models where the run leaves them unset. SmolLM2-135M at temperature 1.0 with 256 tokens
#: and no stop string wrote gibberish; at 0.7 with 48 tokens and the scaffold's stop string (`</action>`) it writes
#: short prose. The tiny byte model answers in a few tokens.
LOCAL_SAMPLING: dict[str, dict[str, Any]] = {"smollm2": {"temperature": 0.7, "max_new_tokens": 48},
                                             "tiny": {"max_new_tokens": 32}}


def import_object(path: str) -> Any:
    """The object at `pkg.module:attr.sub` or `pkg.module.attr`."""
    if ":" in path:
        module_name, _, attr_path = path.partition(":")
    else:
        module_name, _, attr_path = path.rpartition(".")
    if not module_name or not attr_path:
        raise ValueError(f"not an import path: {path!r} (expected pkg.module:Class)")
    obj: Any = importlib.import_module(module_name)
    for attr in attr_path.split("."):
        obj = getattr(obj, attr)
    return obj


def build_policy(config: PolicySection, model: ModelSection | None = None, *, concurrency: int = 8,
                 api_key: str | None = None) -> Policy:
    """The policy `config` describes.

    Args:
        config: the `policy` section (name, args, sampling).
        model: how a local model is built (`tiny` sizes, dtype, LoRA).
        concurrency: the run's concurrency (request limit of remote policies, batch size of local ones).
        api_key: for `openai` (never stored in a config).

    Raises:
        ValueError: an unknown name (the message lists the known ones) or arguments the policy does not take.
    """
    name, _, arg = config.name.partition(":")
    kwargs = dict(config.args)
    if config.is_local:
        return _local_policy(config, model or ModelSection(), concurrency)
    if name == "openai":
        server = {"model": config.model or arg or None, "base_url": config.base_url, "api_key": api_key,
                  "temperature": config.temperature, "top_p": config.top_p, "max_tokens": config.max_new_tokens,
                  "stop": config.stop, "seed": config.seed, "concurrency": concurrency}
        kwargs.update({k: v for k, v in server.items() if v is not None and k not in kwargs})
        return import_object(POLICIES["openai"])(**kwargs)
    if name in POLICIES:
        return import_object(POLICIES[name])(**kwargs)
    if ":" in config.name or "." in config.name:
        try:
            factory = import_object(config.name)
        except (ImportError, AttributeError) as exc:
            raise ValueError(f"cannot import policy {config.name!r}: {exc}") from None
        return factory(**kwargs)
    known = ", ".join(["smollm2", "tiny", "hf:<dir>", *POLICIES])
    raise ValueError(f"unknown policy {config.name!r}; known: {known}, or an import path pkg.module:Class")


def _local_policy(config: PolicySection, model_config: ModelSection, concurrency: int) -> Policy:
    from harness.models import load_model
    from harness.models.sampler import Sampling
    from harness.policies.local import LocalPolicy, single_token_ids

    args = dict(config.args)
    fields = {f.name for f in dataclasses.fields(Sampling)}
    sampling_args = {k: args.pop(k) for k in list(args) if k in fields}
    given = {"max_new_tokens": config.max_new_tokens, "temperature": config.temperature, "top_p": config.top_p,
             "stop": config.stop, "seed": config.seed}
    sampling_args.update({k: v for k, v in given.items() if v is not None})
    for key, value in LOCAL_SAMPLING.get(config.name, {}).items():
        sampling_args.setdefault(key, value)
    sampling = Sampling(**sampling_args)
    model, tokenizer = load_model(config.name, model_config)
    allowed = single_token_ids(tokenizer, config.allowed_tokens)
    name = args.pop("name", "smollm2-135m-instruct" if config.name == "smollm2" else config.name)
    threads = config.threads or (1 if (os.cpu_count() or 1) <= 4 else None)
    return LocalPolicy(model, tokenizer, sampling=sampling, name=name, threads=threads,
                       max_batch=config.max_batch or args.pop("max_batch", max(1, concurrency)),
                       max_prompt_tokens=config.max_prompt_tokens, allowed_token_ids=allowed,
                       seed=model_config.seed if config.seed is None else config.seed, **args)


def make_policy(spec: str, **kwargs: Any) -> Policy:
    """A policy from a spec and its arguments, e.g. `make_policy("tiny", max_new_tokens=8)` (see the module table)."""
    return build_policy(PolicySection(name=spec, args=kwargs))
