"""Rollout machinery: where envs live (`env_executors`: thread, inline, process workers, Ray), one episode
(`episode.run_episode`) and the one gatherer of bench and train (`runner.run_episodes`).
"""

from harness.rollout.env_executors import EXECUTORS, EnvExecutor, EnvHandle, make_executor
from harness.rollout.runner import EpisodeSpec, play_spec, run_episodes, run_episodes_sync

__all__ = ["EXECUTORS", "EnvExecutor", "EnvHandle", "EpisodeSpec", "make_executor", "play_spec", "run_episodes",
           "run_episodes_sync"]
