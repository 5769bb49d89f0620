"""Doors: the built-in example environment (and the CPU training testbed)."""

from agent_envs.doors.env import DoorsEnv

__all__ = ["DoorsEnv"]
