"""Codes: the example env whose turns are multi-token responses (the CPU testbed of AEM's mechanism)."""

from agent_envs.codes.env import CodesEnv, door_codes

__all__ = ["CodesEnv", "door_codes"]
