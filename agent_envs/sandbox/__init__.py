"""Sandboxes for running agent shell commands: one interface (`Sandbox`), a local bubblewrap backend and a Docker
backend. Backends are looked up by short name (`get_sandbox_class("local")`) and imported only when used.
"""

from __future__ import annotations

import importlib

from agent_envs.sandbox.base import ExecResult, Sandbox, SandboxLimits, truncate_output

BACKENDS = {
    "local": "agent_envs.sandbox.local:LocalSandbox",
    "docker": "agent_envs.sandbox.docker:DockerSandbox",
}


def get_sandbox_class(name: str) -> type[Sandbox]:
    """The sandbox class for a short name ("local", "docker") or a dotted path "pkg.module:Class"."""
    target = BACKENDS.get(name, name)
    if ":" not in target:
        raise ValueError(f"unknown sandbox backend {name!r}; choose one of {sorted(BACKENDS)} or give 'module:Class'")
    module, _, attr = target.partition(":")
    return getattr(importlib.import_module(module), attr)


__all__ = ["BACKENDS", "ExecResult", "Sandbox", "SandboxLimits", "get_sandbox_class", "truncate_output"]
