"""Policies: messages in, one response out. `make_policy(spec)` builds one from a short name or a dotted path.

| spec | policy |
|---|---|
| `openai` / `openai:<model>` | `OpenAIPolicy` (URL / key / model from kwargs or `AEMGYM_*` / `OPENAI_*` env vars) |
| `hf:<path>` | `HFPolicy.from_pretrained(path)`: a local checkpoint directory |
| `smollm2` | `HFPolicy.smollm2()`: the embedded SmolLM2-135M-Instruct |
| `tiny` | `HFPolicy.tiny()`: a random 0.16 M-parameter model (tests) |
| `expert`, `random`, `scripted` | `ExpertPolicy`, `RandomPolicy`, `ScriptedPolicy` |
| `pkg.module:Factory` or `pkg.module.Factory` | any class or function returning a policy |
"""

from __future__ import annotations

import importlib
from typing import Any

from harness.types import Policy

POLICIES: dict[str, str] = {
    "openai": "harness.policies.openai_compat:OpenAIPolicy",
    "hf": "harness.policies.hf:HFPolicy.from_pretrained",
    "smollm2": "harness.policies.hf:HFPolicy.smollm2",
    "tiny": "harness.policies.hf:HFPolicy.tiny",
    "expert": "harness.policies.scripted:ExpertPolicy",
    "random": "harness.policies.scripted:RandomPolicy",
    "scripted": "harness.policies.scripted:ScriptedPolicy",
}


def import_object(path: str) -> Any:
    """The object at `pkg.module:attr.sub` or `pkg.module.attr`."""
    if ":" in path:
        module_name, _, attr_path = path.partition(":")
    else:
        module_name, _, attr_path = path.rpartition(".")
    if not module_name or not attr_path:
        raise ValueError(f"not a dotted path: {path!r}")
    obj: Any = importlib.import_module(module_name)
    for attr in attr_path.split("."):
        obj = getattr(obj, attr)
    return obj


def make_policy(spec: str, **kwargs: Any) -> Policy:
    """Build a policy from a spec (see the module table); `kwargs` go to its constructor.

    Raises:
        ValueError: unknown short name (the message lists the known ones).
    """
    name, _, arg = spec.partition(":")
    if name == "openai" and arg:
        kwargs.setdefault("model", arg)
    elif name == "hf":
        if not arg:
            raise ValueError("use hf:<path to a local checkpoint directory>")
        return import_object(POLICIES["hf"])(arg, **kwargs)
    if name in POLICIES:
        return import_object(POLICIES[name])(**kwargs)
    if "." in spec:
        return import_object(spec)(**kwargs)
    raise ValueError(f"unknown policy {spec!r}; known: {', '.join(POLICIES)}, or a dotted path pkg.module:Class")
