"""Typed errors for infrastructure failures (bad model output never raises; it is an invalid action)."""

from __future__ import annotations


class AgentEnvsError(Exception):
    """Base class of every error raised by `agent_envs`."""


class TaskNotFound(AgentEnvsError, KeyError):
    """A task id or split does not exist in the env's task set."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "task not found"


class EnvUnavailable(AgentEnvsError, RuntimeError):
    """The env's engine, server or data cannot be used on this machine (with a hint how to fix it)."""


class SandboxError(AgentEnvsError, RuntimeError):
    """A sandbox could not be created, started or cleaned up (not: a command inside it failed)."""


class DependencyNotInstalled(AgentEnvsError, ImportError):
    """An optional dependency of an env is missing; the message names the extra to install."""


class DataNotFound(AgentEnvsError, FileNotFoundError):
    """A data directory or file is missing or malformed; the message says where it was looked for."""


class ExpertUnavailable(AgentEnvsError, RuntimeError):
    """The env's expert could not produce an action (e.g. its planner hit its CPU or memory limit, or found no plan).

    Raised from `reset`/`step` of an env made with `expert=True`: the episode is an infrastructure error, never a
    silent stand-in action.
    """
