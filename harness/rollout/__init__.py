"""Async rollout: `run_episodes` plays many episodes concurrently and records every turn."""

from harness.rollout.executor import EnvExecutor, EnvHandle, EpisodeSpec, play_spec, run_episodes, run_episodes_sync

__all__ = ["EnvExecutor", "EnvHandle", "EpisodeSpec", "play_spec", "run_episodes", "run_episodes_sync"]
