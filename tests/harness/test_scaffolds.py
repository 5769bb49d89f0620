"""Scaffolds against real local servers: the whole chat conversation, the context budget, tool calls on every env,
ReAct actions, and the run defaults a scaffold brings."""

from __future__ import annotations

import gymnasium as gym
import pytest

import agent_envs
from harness.config import BenchConfig, PromptSection
from harness.policies.openai_compat import OpenAIPolicy
from harness.policies.scripted import ExpertPolicy, ScriptedPolicy
from harness.prompting import PromptBuilder, with_run_defaults
from harness.rollout import EpisodeSpec, run_episodes_sync
from harness.scaffolds.chat import DROPPED
from harness.scaffolds.react import react_action
from harness.scaffolds.templates import DEFAULT_SYSTEM
from harness.serve.runner import BackgroundServer
from harness.types import prompts
from tests.harness.fake_openai import FakeOpenAI

DOORS = "agent_envs/Doors-v0"
ADMISSIBLE = "- A\n- B\n- C\n- D"


def play(env_id, env_kwargs, policy, scaffold="chat", task="doors-test-0", **prompt):
    spec = [EpisodeSpec(task, task, 0, seed=0)]
    (episode,) = run_episodes_sync(env_id, env_kwargs, policy, spec, prompt=PromptSection(scaffold=scaffold, **prompt),
                                   progress=False)
    return episode


def test_chat_transcript_is_the_whole_conversation_over_five_turns(tiny_server, tiny_policy):
    kwargs = {"n_rooms": 6, "lenient": False, "max_episode_steps": 5}
    policy = OpenAIPolicy(base_url=tiny_server.base_url, model="tiny", max_tokens=8, seed=1, stop=["</action>"])
    episode = play(DOORS, kwargs, policy)
    assert episode.status == "ok" and len(episode.turns) == 5 and episode.turns[-1].truncated
    env = gym.make(DOORS, **kwargs)
    observation, info = env.reset(options={"task_id": "doors-test-0"})
    env.close()
    expected = [{"role": "system", "content": DEFAULT_SYSTEM},
                {"role": "user", "content": f"Task: {info['instruction']}\n\nObservation:\n{observation}\n\n"
                                            f"Admissible actions:\n{ADMISSIBLE}\n\nChoose one admissible action. "
                                            "Reply in the form <action>ACTION</action>."}]
    shown = prompts(episode.turns)
    for turn, prompt in zip(episode.turns, shown, strict=True):
        assert prompt == expected, f"turn {turn.step}"
        assert turn.messages_kept == (0 if turn.step == 0 else len(expected) - 2)
        assert turn.response.prompt_token_ids == tiny_policy.encode(expected)  # what the served model saw
        observation = f"Observation:\n{turn.observation}\n\nAdmissible actions:\n{ADMISSIBLE}"
        expected = [*expected, {"role": "assistant", "content": turn.response.text},
                    {"role": "user", "content": observation}]


def test_context_overflow_ends_the_episode_as_truncated(tiny_policy):
    section = PromptSection(scaffold="chat")
    builder = PromptBuilder(agent_envs.env_class(DOORS), section)
    env = gym.make(DOORS, n_rooms=6, lenient=False)
    observation, info = env.reset(options={"task_id": "doors-test-0"})
    env.close()
    first = builder.start(instruction=info["instruction"], observation=observation, info=info,
                          counter=tiny_policy.count_tokens).total
    episode = play(DOORS, {"n_rooms": 6, "lenient": False}, tiny_policy, context_tokens=first + 1)
    assert episode.status == "ok" and episode.error is None
    assert episode.truncation == "context" and len(episode.turns) == 1 and not episode.success


def test_drop_mode_replaces_the_oldest_observations_then_truncates():
    kwargs = {"n_rooms": 10, "lenient": False, "max_episode_steps": 12}
    policy = ScriptedPolicy(["<action>Z</action>"])
    cut = play(DOORS, kwargs, policy, context_tokens=330)
    dropped = play(DOORS, kwargs, policy, context_tokens=330, on_context_full="drop")
    assert cut.truncation == dropped.truncation == "context"
    assert len(dropped.turns) > len(cut.turns) >= 2
    last = prompts(dropped.turns)[-1]
    observations = [m["content"] for m in last[2:] if m["role"] == "user"]
    assert all(o.startswith("[observation dropped") for o in observations[:-1]) and len(observations) >= 2
    assert observations[-1].startswith("Observation:\nThere is no door")
    assert DROPPED.split(":")[0][1:] in observations[0]
    assert [m["content"] for m in last if m["role"] == "assistant"] == ["<action>Z</action>"] * (len(last) // 2 - 1)
    assert any(t.messages_kept < len(p) - 2 for t, p in zip(dropped.turns[1:], prompts(dropped.turns), strict=False))


def test_a_server_refusing_a_long_prompt_ends_the_episode_as_truncated():
    fake = FakeOpenAI(replies=["<action>Z</action>"], context_chars=1500)
    with BackgroundServer(fake.app) as server:
        policy = OpenAIPolicy(base_url=server.base_url, model="fake-model", max_retries=0)
        episode = play(DOORS, {"n_rooms": 10, "lenient": False, "max_episode_steps": 12}, policy)
    assert episode.status == "ok" and episode.truncation == "context" and 1 <= len(episode.turns) < 12


class Recorder(ExpertPolicy):
    """The expert, remembering its actions (replayed by the fake server as tool calls)."""

    def __init__(self) -> None:
        super().__init__()
        self.actions: list[str] = []

    async def respond(self, messages, context):
        self.actions.append(context.info["expert_action"])
        return await super().respond(messages, context)


ENVS = {  # env id -> (kwargs, task id)
    DOORS: ({}, "doors-test-0"),
    "agent_envs/ALFWorld-v0": ({}, None),
    "agent_envs/WebShop-v0": ({}, "synthetic-0"),
    "agent_envs/SWEBench-v0": ({}, "aemgym__tinycalc-1"),
}


@pytest.mark.parametrize("env_id", list(ENVS))
def test_tool_calls_round_trip(env_id):
    from harness.policies.scripted import tool_call_for

    kwargs, task = ENVS[env_id]
    task = task or agent_envs.env_class(env_id).load_task_set().task_ids("train")[0]
    recorder = Recorder()
    assert play(env_id, kwargs, recorder, task=task).success
    actions = recorder.actions

    def reply(body):
        turn = sum(m["role"] == "assistant" for m in body["messages"])
        return {"content": "", "tool_calls": [tool_call_for(actions[turn], body["tools"])]}

    fake = FakeOpenAI(replies=reply)
    with BackgroundServer(fake.app) as server:
        policy = OpenAIPolicy(base_url=server.base_url, model="fake-model", max_retries=0)
        episode = play(env_id, kwargs, policy, scaffold="tools", task=task)
    assert episode.status == "ok" and episode.success, episode.turns[-1].observation[:500]
    assert len(episode.turns) == len(actions)
    first, second = fake.requests[0], fake.requests[1]
    env = gym.make(env_id, **kwargs)
    _, info = env.reset(options={"task_id": task})
    env.close()
    assert first["tools"] == info["tools"] and first["parallel_tool_calls"] is False
    assistant, tool = second["messages"][-2:]
    assert assistant["tool_calls"][0]["function"]["name"] == tool_call_for(actions[0], first["tools"])["name"]
    assert tool["role"] == "tool" and tool["tool_call_id"] == assistant["tool_calls"][0]["id"]
    assert episode.turns[0].observation[:50] in tool["content"]
    assert episode.turns[0].action.startswith('{"tool_calls":') and episode.turns[0].response.tool_calls


def test_a_reply_without_a_tool_call_gets_the_invalid_action_feedback():
    fake = FakeOpenAI(replies=["<action>A</action>"])
    with BackgroundServer(fake.app) as server:
        policy = OpenAIPolicy(base_url=server.base_url, model="fake-model", max_retries=0)
        episode = play(DOORS, {"max_episode_steps": 2}, policy, scaffold="tools")
    assert [t.info["action_valid"] for t in episode.turns] == [False, False]
    assert episode.turns[0].observation.startswith("Invalid tool call: no tool call")
    assert fake.requests[1]["messages"][-1]["role"] == "user"  # no tool call to answer


def test_react_sends_the_action_line_in_the_env_format():
    assert react_action("Thought: the hint says B.\nAction: B") == "B"
    assert react_action("Thought: x\nAction:\n```bash\nls -la\n```\n") == "ls -la"
    assert react_action("no action here") is None
    policy = ScriptedPolicy(lambda m, c: f"Thought: the draft says it.\nAction: {c.info['expert_action']}")
    episode = play(DOORS, {"expert": True}, policy, scaffold="react")
    assert episode.success and episode.turns[0].action == f"<action>{episode.turns[0].response.text[-1]}</action>"
    assert prompts(episode.turns)[1][-1]["content"].startswith("Observation: The door opens.")


def test_run_defaults_per_policy_scaffold_and_env():
    doors = with_run_defaults(BenchConfig.model_validate({"policy": {"name": "smollm2"}}), agent_envs.env_class(DOORS))
    assert (doors.policy.temperature, doors.policy.max_new_tokens, doors.policy.stop) == (0.7, 48, ["</action>"])
    mine = BenchConfig.model_validate({"policy": {"name": "smollm2", "temperature": 0.2, "stop": []}})
    assert (with_run_defaults(mine, None).policy.temperature, with_run_defaults(mine, None).policy.stop) == (0.2, [])
    swe_cls = agent_envs.env_class("agent_envs/SWEBench-v0")
    swe = with_run_defaults(BenchConfig.model_validate({"policy": {"name": "openai"}}), swe_cls)
    assert swe.env.max_steps == 250 and swe.policy.stop is None
    assert swe.env.kwargs == {"max_format_errors": 3, "grade_on_truncation": False}
    assert swe.policy.temperature is None and swe.policy.max_new_tokens is None
    react = BenchConfig.model_validate({"prompt": {"scaffold": "react"}, "policy": {"name": "openai"}})
    assert with_run_defaults(react, None).policy.stop == ["\nObservation:"]
