"""A conformance test mixin every env's tests reuse (in the spirit of dm_env's `EnvironmentTestMixin`).

    class TestMyEnv(TextEnvConformance):
        env_id = "agent_envs/MyEnv-v0"
        env_kwargs = {"data_dir": ...}

Each `test_*` method below then runs against `gymnasium.make(env_id, **env_kwargs)`. Override `make_env` for envs
that need a fixture, and `good_response(env, info)` to return a response that is valid now (the default uses the
first admissible action, or the expert when the env has one).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, ClassVar, cast

import gymnasium as gym
from gymnasium.utils.env_checker import check_env

from agent_envs.core import (
    ACTION_VALID,
    ADMISSIBLE_ACTIONS,
    ANCHOR_OBS,
    EXPERT_ACTION,
    SCORE,
    STEP,
    SUCCESS,
    TASK_ID,
    TextEnv,
)

#: Responses a model may produce that contain no usable action; none may raise.
BAD_RESPONSES: tuple[str, ...] = (
    "",
    "   \n\t ",
    "I think I should look around first.",
    "<action></action>",
    "<action>unclosed",
    "</action>backwards<action>",
    "\x00\x01\x02\x1b[31m<<>>\x7f",
    "行动：打开门 🚪 действие ação",
    "<action>" + "x" * 5000 + "</action>",
    "y" * (1 << 20),
)

#: Pieces of hostile model output: lone surrogates, NUL and control characters, bidi and zero-width marks, characters
#: NFKC expands, nested and unclosed tags, JSON/HTML/shell injection, format strings, brackets of the action syntaxes.
HOSTILE_PIECES: tuple[str, ...] = (
    "\ud83d", "\udc00", "\ud83d\ude00", "\x00", "\x01\x02\x1b[31m", "\x7f\x85\x9b", "\r\n\t\x0b\x0c", "\u202e",
    "\u200f\u2066\u2069", "\u200b\ufeff", "e\u0301\u0301", "\ufdfa", "\ufb03", "²", "٣", "１", "𝔘𝔫𝔦", "😀", "行动",
    "<action>", "</action>", "<action><action>", "</action></action>", "<think>", "</think>", "<action/>", "<",
    ">", "&lt;action&gt;", '{"action": "x"}', '{"a": [', "<script>alert(1)</script>", "' OR 1=1; --", "$(id)", "`id`",
    "{0}", "{}", "{{", "%s", "%(x)s", "%n%n", "\\", "\\n", "[", "]", "[[", "]]", "search[", "click[", "go to",
    "```bash\n", "```", "\n", " ", "",
)  # fmt: skip


def hostile_response(rng: random.Random, actions: Sequence[str] = (), *, plain_share: float = 0.1,
                     huge_share: float = 0.002) -> str:
    """One hostile model response: random hostile pieces, sometimes around or inside an admissible action.

    Args:
        rng: the generator (seed it: a failure must replay).
        actions: admissible actions now: a third of the responses build on one of them.
        plain_share: share of responses that are just an admissible action (so the fuzz goes deeper into episodes).
        huge_share: share of responses padded to about 1 MB.
    """
    if actions and rng.random() < plain_share:
        return f"<action>{rng.choice(list(actions))}</action>"
    parts = [rng.choice(HOSTILE_PIECES) for _ in range(rng.randint(1, 6))]
    if actions and rng.random() < 0.33:
        action = rng.choice(list(actions))
        parts.insert(rng.randrange(len(parts) + 1), action[: rng.randint(0, len(action))] if rng.random() < 0.3
                     else action)  # fmt: skip
    text = "".join(parts)
    roll = rng.random()
    if roll < 0.4:
        text = f"<action>{text}</action>"
    elif roll < 0.5:
        text = f"<action>{rng.choice(['search', 'click'])}[{text}]</action>"
    elif roll < 0.55:
        text = f"```bash\n{text}\n```"
    if rng.random() < huge_share:
        pad = rng.choice(["A", "\ud83d", "<action>", "\x00", "\ufdfa", "search["])
        text += (pad * ((1 << 20) // len(pad) + 1))[: 1 << 20]
    return text


class TextEnvConformance:
    """Mixin with the contract tests. Subclasses set `env_id` (and `env_kwargs`) or override `make_env`."""

    env_id: ClassVar[str] = ""
    env_kwargs: ClassVar[dict[str, Any]] = {}
    #: Envs whose engine is inherently nondeterministic may skip `check_env`'s determinism checks (say why).
    skip_determinism: ClassVar[bool] = False

    def make_env(self, **overrides: Any) -> gym.Env:
        """A fresh env through `gymnasium.make`, with all wrappers."""
        return gym.make(self.env_id, **{**self.env_kwargs, **overrides})

    def good_response(self, env: gym.Env, info: dict[str, Any]) -> str:
        """A response with an action that is admissible now."""
        if info.get(EXPERT_ACTION):
            return f"<action>{info[EXPERT_ACTION]}</action>"
        actions = info.get(ADMISSIBLE_ACTIONS)
        assert actions, "override good_response() for envs without admissible actions"
        return f"<think>try</think><action>{actions[0]}</action>"

    # ----- tests ------------------------------------------------------------------------------------------------
    def test_is_text_env(self) -> None:
        """The env is a `TextEnv` registered with a turn limit."""
        env = self.make_env()
        try:
            assert isinstance(env.unwrapped, TextEnv)
            assert env.spec is not None and env.spec.max_episode_steps, "register a turn limit"
        finally:
            env.close()

    def test_check_env(self) -> None:
        """Gymnasium's own `check_env` passes and the first observation is in the observation space."""
        env = self.make_env()
        try:
            if not self.skip_determinism:
                check_env(env.unwrapped, skip_render_check=True)
            obs, _ = env.reset(seed=0)
            assert env.observation_space.contains(obs)
        finally:
            env.close()

    def test_reset_info_and_replay(self) -> None:
        """`reset` gives the standard info keys, and the same seed and task replay the same observation."""
        env = self.make_env()
        try:
            obs, info = env.reset(seed=3)
            assert isinstance(obs, str) and obs.strip()
            for key in (TASK_ID, ACTION_VALID, ADMISSIBLE_ACTIONS, SUCCESS, SCORE, ANCHOR_OBS):
                assert key in info, f"reset info lacks {key!r}"
            obs2, info2 = env.reset(options={"task_id": info[TASK_ID]})
            assert info2[TASK_ID] == info[TASK_ID]
            if not self.skip_determinism:
                assert obs2 == obs, "the same task must give the same first observation"
        finally:
            env.close()

    def test_task_set(self) -> None:
        """The task set has splits with tasks, and every task id resolves."""
        env = self.make_env()
        try:
            task_set = cast(TextEnv, env.unwrapped).task_set
            sizes = task_set.sizes()
            assert sizes and all(n > 0 for n in sizes.values()), sizes
            split = next(iter(sizes))
            first = task_set.task_ids(split)[0]
            assert task_set.get(first).task_id == first
        finally:
            env.close()

    def test_good_step(self) -> None:
        """A well-formed response steps the env with the standard info keys."""
        env = self.make_env()
        try:
            _, info = env.reset(seed=1)
            obs, reward, terminated, truncated, info = env.step(self.good_response(env, info))
            assert isinstance(obs, str) and isinstance(reward, float)
            assert info[ACTION_VALID] is True
            for key in (TASK_ID, ADMISSIBLE_ACTIONS, SUCCESS, SCORE, STEP):
                assert key in info, f"step info lacks {key!r}"
        finally:
            env.close()

    def test_bad_responses_are_invalid_not_errors(self) -> None:
        """Malformed responses are invalid actions with feedback, never exceptions."""
        env = self.make_env()
        try:
            env.reset(seed=2)
            for response in BAD_RESPONSES:
                obs, reward, terminated, truncated, info = env.step(response)
                assert info[ACTION_VALID] is False, f"accepted {response[:40]!r}"
                assert isinstance(obs, str) and obs.strip() and len(obs) < 20_000
                if terminated or truncated:
                    env.reset(seed=2)
        finally:
            env.close()

    def test_turn_limit_truncates(self) -> None:
        """The registered turn limit truncates the episode."""
        env = self.make_env()
        try:
            env.reset(seed=4)
            assert env.spec is not None and env.spec.max_episode_steps is not None
            limit = env.spec.max_episode_steps
            for turn in range(limit):
                _, _, terminated, truncated, info = env.step("no action here")
                assert not terminated
                assert truncated == (turn == limit - 1)
            assert info[SUCCESS] is False and SCORE in info
        finally:
            env.close()

    def test_close_is_idempotent(self) -> None:
        """`close` may be called twice."""
        env = self.make_env()
        env.reset(seed=5)
        env.close()
        env.close()
