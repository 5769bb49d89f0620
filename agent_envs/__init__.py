"""agent_envs: multi-turn text environments behind the Gymnasium API.

Importing the package registers every built-in env under the `agent_envs/` namespace; engines are imported only when
an env is made, so `import agent_envs` stays cheap and needs no optional dependency.

    import gymnasium as gym, agent_envs
    env = gym.make("agent_envs/Doors-v0")
    obs, info = env.reset(seed=0)
"""

from agent_envs.core import Task, TaskSet, TextEnv, Transition
from agent_envs.errors import (
    AgentEnvsError,
    DataNotFound,
    DependencyNotInstalled,
    EnvUnavailable,
    ExpertUnavailable,
    SandboxError,
    TaskNotFound,
)
from agent_envs.registration import ENV_IDS, env_class, register_all
from agent_envs.spaces import UnicodeText

register_all()

__all__ = [
    "ENV_IDS",
    "AgentEnvsError",
    "DataNotFound",
    "DependencyNotInstalled",
    "EnvUnavailable",
    "ExpertUnavailable",
    "SandboxError",
    "Task",
    "TaskNotFound",
    "TaskSet",
    "TextEnv",
    "Transition",
    "UnicodeText",
    "env_class",
]
