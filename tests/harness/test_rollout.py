"""The async runner: records, groups, error marking, bad model output, executors, prompts, storage."""

from __future__ import annotations

import json

import pytest

from harness.config import PromptSection
from harness.policies.scripted import ExpertPolicy, RandomPolicy, ScriptedPolicy
from harness.prompting import PromptBuilder
from harness.rollout import EpisodeSpec, run_episodes_sync
from harness.storage import RunStore, read_episode_dicts, read_episodes
from harness.types import Episode, PolicyResponse

DOORS = "agent_envs/Doors-v0"


def specs(n_tasks: int, samples: int = 1, split: str = "test") -> list[EpisodeSpec]:
    return [EpisodeSpec(f"doors-{split}-{i}", f"doors-{split}-{i}", s) for i in range(n_tasks) for s in range(samples)]


def test_expert_solves_every_episode_with_full_records():
    episodes = run_episodes_sync(DOORS, {}, ExpertPolicy(), specs(5, samples=2), progress=False)
    assert [e.episode_id for e in episodes] == [s.episode_id for s in specs(5, samples=2)]
    for e in episodes:
        assert e.status == "ok" and e.success and e.score == 1.0 and e.total_reward == 1.0
        assert len(e.turns) == 3  # 3 rooms, one correct door each
        first = e.turns[0]
        assert first.messages[0]["role"] == "system" and "Room 1 of 3" in first.messages[-1]["content"]
        assert first.info["action_valid"] is True and first.env_time_s >= 0
        assert e.turns[-1].terminated and not e.turns[-1].truncated
        assert Episode.from_dict(json.loads(json.dumps(e.to_dict()))) == e
    assert {e.group_id for e in episodes} == {f"doors-test-{i}" for i in range(5)}


def test_turn_limit_truncates():
    episodes = run_episodes_sync(DOORS, {"max_episode_steps": 3}, ScriptedPolicy(["<action>Z</action>"]), specs(2),
                                 progress=False)
    for e in episodes:
        assert e.status == "ok" and not e.success and len(e.turns) == 3 and e.turns[-1].truncated


BAD_OUTPUTS = {
    "no tags": "I think I will open a door eventually.",
    "empty": "",
    "1 MB": "<act" + "x" * 1_000_000,
    "control characters": "\x00\x01\x1b[31m\x7f<action>\x00\x07</action>",
    "other scripts": "Открою дверь 門を開ける 🚪 <action>门</action>",
}


@pytest.mark.parametrize("kind", list(BAD_OUTPUTS))
def test_bad_model_output_is_an_invalid_action_not_an_exception(kind):
    env_kwargs = {"lenient": False, "max_episode_steps": 2}
    (episode,) = run_episodes_sync(DOORS, env_kwargs, ScriptedPolicy([BAD_OUTPUTS[kind]]), specs(1), progress=False)
    assert episode.status == "ok", episode.error
    assert len(episode.turns) == 2
    for turn in episode.turns:
        assert turn.info["action_valid"] is False
        assert "nvalid action" in turn.observation or "no door" in turn.observation
        assert len(turn.observation) < 2000  # the feedback does not echo a megabyte back
    json.dumps(episode.to_dict())  # storable


def test_policy_exception_and_policy_error_mark_only_that_episode():
    def flaky(messages, context):
        if context.task_id == "doors-test-1":
            raise RuntimeError("model crashed")
        if context.task_id == "doors-test-2":
            from harness.types import PolicyResponse

            return PolicyResponse(text="", error="endpoint dead after retries")
        return f"<action>{context.info['expert_action']}</action>"

    policy = ScriptedPolicy(flaky)
    policy.needs_expert = True
    episodes = run_episodes_sync(DOORS, {}, policy, specs(4), progress=False)
    statuses = {e.task_id: e.status for e in episodes}
    assert statuses == {"doors-test-0": "ok", "doors-test-1": "error", "doors-test-2": "error", "doors-test-3": "ok"}
    by_id = {e.task_id: e for e in episodes}
    assert "RuntimeError: model crashed" in by_id["doors-test-1"].error
    assert "endpoint dead" in by_id["doors-test-2"].error and by_id["doors-test-2"].turns[0].response.error


def test_env_failure_marks_the_episode():
    episodes = run_episodes_sync(DOORS, {}, RandomPolicy(), [EpisodeSpec("no-such-task", "g")], progress=False)
    assert episodes[0].status == "error" and "TaskNotFound" in episodes[0].error


def test_duplicate_episode_ids_are_refused():
    with pytest.raises(ValueError):
        run_episodes_sync(DOORS, {}, RandomPolicy(), [EpisodeSpec("doors-test-0", "g")] * 2, progress=False)


@pytest.mark.parametrize("executor", ["inline", "process"])
def test_other_executors_give_the_same_episodes(executor):
    thread = run_episodes_sync(DOORS, {}, ExpertPolicy(), specs(4), progress=False, executor="thread")
    other = run_episodes_sync(DOORS, {}, ExpertPolicy(), specs(4), progress=False, executor=executor, concurrency=4)
    assert [(e.episode_id, e.success, len(e.turns)) for e in other] == [
        (e.episode_id, e.success, len(e.turns)) for e in thread]
    assert [t.observation for t in other[0].turns] == [t.observation for t in thread[0].turns]


def test_process_executor_reports_env_errors_with_the_worker_traceback():
    (episode,) = run_episodes_sync(DOORS, {}, RandomPolicy(), [EpisodeSpec("nope", "g")], progress=False,
                                   executor="process")
    assert episode.status == "error" and "TaskNotFound" in episode.error


HEADER = {"command": "bench", "config": {"env": {"id": DOORS}, "policy": {"name": "expert"}}}


def test_store_appends_each_episode_once_and_resume_skips_them(tmp_path):
    with RunStore(tmp_path, header=HEADER) as store:
        run_episodes_sync(DOORS, {}, ExpertPolicy(), specs(3), progress=False, store=store)
    with pytest.raises(FileExistsError):
        RunStore(tmp_path, header=HEADER)
    counting = ScriptedPolicy(lambda m, c: f"<action>{c.info['expert_action']}</action>")
    counting.needs_expert = True
    calls = []
    inner = counting.replies
    counting.replies = lambda m, c: calls.append(c.task_id) or inner(m, c)
    with RunStore(tmp_path, header=HEADER, resume=True) as store:
        episodes = run_episodes_sync(DOORS, {}, counting, specs(5), progress=False, store=store)
    assert len(episodes) == 5 and all(e.success for e in episodes)
    assert set(calls) == {"doors-test-3", "doors-test-4"}  # finished ones were not replayed
    ids = [d["episode_id"] for d in read_episode_dicts(tmp_path / "episodes.jsonl")]
    assert sorted(ids) == sorted(s.episode_id for s in specs(5)) and len(ids) == len(set(ids))


def test_torn_last_line_is_ignored_and_cut_on_resume(tmp_path):
    with RunStore(tmp_path, header=HEADER) as store:
        run_episodes_sync(DOORS, {}, ExpertPolicy(), specs(2), progress=False, store=store)
    path = tmp_path / "episodes.jsonl"
    with open(path, "a") as f:
        f.write('{"episode_id": "doors-test-2/0", "tur')  # a kill in the middle of a write
    assert len(read_episode_dicts(path)) == 2
    with RunStore(tmp_path, resume=True) as store:
        run_episodes_sync(DOORS, {}, ExpertPolicy(), specs(3), progress=False, store=store)
    lines = path.read_text().splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)


def test_resume_refuses_a_different_experiment_and_says_what_differs(tmp_path):
    RunStore(tmp_path, header=HEADER).close()
    other = {"command": "bench", "config": {"env": {"id": DOORS}, "policy": {"name": "random"}}}
    with pytest.raises(ValueError, match="policy.name: 'expert' -> 'random'"):
        RunStore(tmp_path, header=other, resume=True)
    faster = {"command": "bench", "config": {**HEADER["config"], "rollout": {"concurrency": 64}}}
    RunStore(tmp_path, header=faster, resume=True).close()  # how fast a run goes is not part of its results
    with pytest.raises(FileNotFoundError, match="nothing to resume"):
        RunStore(tmp_path / "empty", header=HEADER, resume=True)


def test_error_episodes_are_played_again_on_resume_and_read_as_their_last_record(tmp_path):
    down = ScriptedPolicy(lambda m, c: PolicyResponse(text="", error="endpoint down"))
    with RunStore(tmp_path, header=HEADER) as store:
        first = run_episodes_sync(DOORS, {}, down, specs(2), progress=False, store=store)
    assert [e.status for e in first] == ["error", "error"]
    with RunStore(tmp_path, header=HEADER, resume=True) as store:
        again = run_episodes_sync(DOORS, {}, ExpertPolicy(), specs(2), progress=False, store=store)
    assert all(e.status == "ok" and e.success for e in again)
    assert len(read_episode_dicts(tmp_path / "episodes.jsonl")) == 4  # the error records are kept on disk
    assert [e.status for e in read_episodes(tmp_path)] == ["ok", "ok"]


def test_hostile_text_is_stored_and_read_back_exactly(tmp_path):
    hostile = "\ud83d<action>A\udc00</action>\x00\u202e{0}%s"
    with RunStore(tmp_path, header=HEADER) as store:
        (episode,) = run_episodes_sync(DOORS, {}, ScriptedPolicy([hostile]), specs(1), progress=False, store=store)
    (stored,) = read_episodes(tmp_path)
    assert stored.turns[0].response.text == hostile and stored.turns[0].observation == episode.turns[0].observation


def test_verl_agent_prompt_history_window_and_templates():
    builder = PromptBuilder(None, PromptSection(scaffold="verl_agent", history_length=2))
    transcript = builder.start(instruction="Do it", observation="start", info={"admissible_actions": None})
    first, kept = transcript.prompt()
    assert kept == 0 and "(any action)" in first[-1]["content"] and "Observation 1" not in first[-1]["content"]
    transcript.history = [(f"obs {i}", f"thinking <action>act {i}</action>") for i in range(5)]
    transcript.observation, transcript.admissible = "now", ["a", "b"]
    text = transcript.prompt()[0][-1]["content"]
    assert "Observation 4: 'obs 3'" in text and "Action 5: 'act 4'" in text and "obs 2" not in text
    assert "Before this turn you took 5 step(s)" in text and "- a\n- b" in text and "now" in text
    no_system = PromptBuilder(None, PromptSection(scaffold="verl_agent", system_prompt=""))
    messages, _ = no_system.start(instruction="x", observation="y", info={}).prompt()
    assert [m["role"] for m in messages] == ["user"]
    with pytest.raises(ValueError, match="no prompt template"):
        PromptBuilder(None, PromptSection(template="missing"))


def test_env_prompt_modules_are_used_and_validated(tmp_path, monkeypatch):
    import sys
    import types

    module = types.ModuleType("fake_prompts_mod")
    module.PROMPTS = {"verl_agent": "T={instruction} O={observation} A={admissible_actions} H={history}"}
    monkeypatch.setitem(sys.modules, "fake_prompts_mod", module)
    env_cls = type("E", (), {"prompt_module": "fake_prompts_mod"})
    builder = PromptBuilder(env_cls, PromptSection(scaffold="verl_agent"))
    text, _ = builder.start(instruction="i", observation="o", info={"admissible_actions": ["x"]}).prompt()
    assert text[-1]["content"] == "T=i O=o A=- x H=(none)"
    module.PROMPTS = {"bad": "{nope}"}
    with pytest.raises(ValueError, match="unknown fields"):
        PromptBuilder(env_cls)


def test_progress_counts_turns_as_they_happen(capsys):
    import asyncio

    from harness.rollout.env_executors import make_executor
    from harness.rollout.episode import run_episode

    seen = []

    async def one():
        executor = make_executor("inline")
        handle = await executor.open(DOORS, {"expert": True})
        return await run_episode(handle, ExpertPolicy(), PromptBuilder(), env_id=DOORS, episode_id="e",
                                 task_id="doors-test-0", group_id="g", on_turn=seen.append)

    episode = asyncio.run(one())
    assert seen == episode.turns and len(seen) == 3
    run_episodes_sync(DOORS, {}, ExpertPolicy(), specs(3), progress=True)
    bar = capsys.readouterr().err
    assert "turns=9" in bar and "turns/s=" in bar and "tok/s=" in bar and "errors=0" in bar
