"""SWE-bench (Verified) environments: sandboxed repositories, one bash command per turn, official grading.

Heavy pieces (the swebench package, sandboxes) are imported when an env is made, not by `import agent_envs`.
"""

from __future__ import annotations

__all__ = ["SWEBenchEnv"]


def __getattr__(name: str):  # lazy: `from agent_envs.swebench import SWEBenchEnv` without importing it eagerly
    if name == "SWEBenchEnv":
        from agent_envs.swebench.env import SWEBenchEnv

        return SWEBenchEnv
    raise AttributeError(name)
