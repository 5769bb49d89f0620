"""Game discovery: standard layout, filter, split names and counts, task types, the train archive, both grammars."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from agent_envs.alfworld import data
from agent_envs.alfworld.engine import grammar_version, read_game, task_sentence
from agent_envs.errors import DataNotFound, TaskNotFound


def test_shared_splits_counts_and_types(alfworld_data: Path) -> None:
    task_set = data.load_tasks(alfworld_data)
    print("ALFWorld splits as loaded:", data.split_summary(task_set))
    assert task_set.sizes() == {"train": 300, "eval_in_distribution": 140, "valid_train": 200}
    # docs/alfworld.md §7: valid_seen = 35 put / 27 clean / 16 heat / 25 cool / 13 examine / 24 puttwo
    summary = data.split_summary(task_set)["eval_in_distribution"]
    assert summary == {"total": 140, "clean": 27, "cool": 25, "examine": 13, "heat": 16, "put": 35, "puttwo": 24}
    assert task_set.size("valid_seen") == task_set.size("valid") == 140  # aliases
    with pytest.raises(TaskNotFound):
        task_set.tasks("eval_out_of_distribution")  # valid_unseen is not in shared/
    first = task_set.tasks("train")[0]
    assert first.task_id.startswith("train/") and first.data["traj_file"] is None  # type from the dir name
    assert first.task_type in data.TASK_TYPES.values()


def test_task_type_filter(alfworld_data: Path) -> None:
    heat_only = data.load_tasks(alfworld_data, task_types=[4])
    assert heat_only.size("eval_in_distribution") == 16
    assert {t.task_type for t in heat_only.tasks("train")} == {"pick_heat_then_place_in_recep"}


@pytest.mark.slow
def test_train_archive_has_3553_games(alfworld_data: Path) -> None:
    archive = alfworld_data / "archives" / data.ARCHIVE_NAME
    task_set = data.load_tasks(alfworld_data, archive=archive)
    assert task_set.size("train") == 3553
    assert task_set.size("eval_in_distribution") == 140  # the directories still provide the other splits
    assert task_set.get(task_set.task_ids("train")[0]).data["member"].endswith("game.tw-pddl")


def _copy_trial(src: Path, dst_root: Path, split_dir: str) -> Path:
    dst = dst_root / "json_2.1.1" / split_dir / src.parent.name / src.name
    shutil.copytree(src, dst)
    return dst


def test_valid_unseen_layout_and_standard_filter(alfworld_data: Path, tmp_path: Path) -> None:
    """A user's data dir with valid_unseen (new grammar, no traj_data.json) plus excluded and broken entries."""
    trials = sorted((alfworld_data / "json_2.1.1" / "train").glob("*/*"))[:3]
    for trial in trials:
        _copy_trial(trial, tmp_path, "valid_unseen")
    movable = tmp_path / "json_2.1.1" / "valid_unseen" / "pick_and_place_with_movable_recep-A-Pan-B-1" / "trial_1"
    shutil.copytree(trials[0], movable)
    unsolvable = tmp_path / "json_2.1.1" / "valid_unseen" / "pick_two_obj_and_place-X-None-Y-1" / "trial_1"
    unsolvable.mkdir(parents=True)
    game = json.loads((trials[0] / "game.tw-pddl").read_text())
    (unsolvable / "game.tw-pddl").write_text(json.dumps({**game, "solvable": False}))
    task_set = data.load_tasks(tmp_path, strict_counts=False)
    assert task_set.sizes() == {"eval_out_of_distribution": 3}
    assert task_set.size("valid_unseen") == 3
    with pytest.raises(DataNotFound, match="differ from the standard"):
        data.load_tasks(tmp_path, strict_counts=True)


def test_env_var_and_loud_failures(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(data.DATA_ENV_VAR, str(tmp_path / "missing"))
    with pytest.raises(DataNotFound, match="not found"):
        data.load_tasks()
    empty = tmp_path / "json_2.1.1" / "valid_seen"
    empty.mkdir(parents=True)
    with pytest.raises(DataNotFound, match="no usable games"):
        data.load_tasks(tmp_path)
    broken = empty / "pick_and_place_simple-A-None-B-1" / "trial_1"
    broken.mkdir(parents=True)
    (broken / "game.tw-pddl").write_text('{"pddl_domain": "x"}')
    with pytest.raises(DataNotFound, match="malformed"):
        data.load_tasks(tmp_path)
    monkeypatch.delenv(data.DATA_ENV_VAR)
    assert data.load_tasks().sizes() == {"train": 6}  # the bundled mini games
    assert os.environ.get(data.DATA_ENV_VAR) is None


def test_bundled_games_cover_all_six_types() -> None:
    task_set = data.load_tasks(None)
    assert sorted(t.task_type for t in task_set.tasks("train")) == sorted(data.TASK_TYPES.values())
    sizes = [p.stat().st_size for p in data.BUNDLED_DIR.rglob("*") if p.is_file() and p.suffix in (".pddl", ".json")]
    assert len(sizes) == 12 and max(sizes) < 16_000


def test_both_grammar_generations(alfworld_data: Path) -> None:
    task_set = data.load_tasks(alfworld_data)
    old_task = task_set.tasks("eval_in_distribution")[0]
    new_task = task_set.tasks("train")[0]
    old = read_game(dict(old_task.data))
    assert grammar_version(old["grammar"]) == "old" and "walkthrough" not in old
    regenerated = read_game(dict(old_task.data), grammar="new")
    assert grammar_version(regenerated["grammar"]) == "new"
    assert task_sentence(regenerated["grammar"]) == task_sentence(old["grammar"])  # original wording kept
    assert regenerated["pddl_problem"] == old["pddl_problem"]
    shipped_new = read_game(dict(new_task.data))
    assert grammar_version(shipped_new["grammar"]) == "new" and shipped_new["walkthrough"]
    with pytest.raises(ValueError):
        read_game(dict(new_task.data), grammar="ancient")


def test_play_a_game_from_an_archive(alfworld_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tar.xz of game files is listed without unpacking by hand and unpacked once (into the cache) when played."""
    import tarfile

    import gymnasium as gym

    from agent_envs.alfworld import engine
    from agent_envs.alfworld.pool import play_expert_episode

    trials = sorted((alfworld_data / "json_2.1.1" / "train").glob("*/*"))[:2]
    archive = tmp_path / "mini_train.tar.xz"
    with tarfile.open(archive, "w:xz") as tar:
        for trial in trials:
            tar.add(trial / "game.tw-pddl", f"json_2.1.1/train/{trial.parent.name}/{trial.name}/game.tw-pddl")
    monkeypatch.setattr(engine, "CACHE_DIR", tmp_path / "cache")
    empty_root = tmp_path / "root"
    empty_root.mkdir()
    task_set = data.load_tasks(empty_root, archive=archive)
    assert task_set.sizes() == {"train": 2}
    kwargs = {"data_dir": str(empty_root), "archive": str(archive), "expert": True, "plan_cache": None}
    env = gym.make("agent_envs/ALFWorld-v0", **kwargs)
    try:
        result = play_expert_episode(env, task_set.task_ids("train")[1])
    finally:
        env.close()
    assert result["won"] and result["plan_source"] == "walkthrough"
    unpacked = (tmp_path / "cache" / "archives").glob("mini_train.tar.xz-*/json_2.1.1/train/*/*/game.tw-pddl")
    assert len(list(unpacked)) == 2
