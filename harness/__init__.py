"""harness: run LLM agents on `agent_envs` environments, store trajectories, report, and train."""
