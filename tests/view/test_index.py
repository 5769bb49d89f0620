"""The episode index: the fast path reads what a full parse reads; appends, torn tails, rewrites and duplicates;
search looks at responses only."""

from __future__ import annotations

import json
import mmap
import os
from pathlib import Path

import pytest

from harness.storage import read_episodes
from harness.view.index import EpisodeIndex, _fast_entry, _full_entry

RUNS = ("bench/doors-expert", "bench/doors-random", "bench/swe-scripted", "train/doors-aem")


@pytest.mark.parametrize("run", RUNS)
def test_fast_entries_equal_full_parses(runs_root: Path, run: str) -> None:
    path = runs_root / run / "episodes.jsonl"
    with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        start, line = 0, 0
        while (end := buf.find(b"\n", start)) >= 0:
            line += 1
            fast = _fast_entry(buf, start, end, line)
            assert fast is not None, f"{run}:{line} fell back to a full parse"
            assert fast == _full_entry(buf, start, end, line)
            start = end + 1
    index = EpisodeIndex(path).refresh()
    episodes = read_episodes(runs_root / run)
    assert [e.episode_id for e in index.entries] == [e.episode_id for e in episodes]
    assert [(e.success, e.turns, e.iteration) for e in index.entries] == [
        (x.success and x.status == "ok", len(x.turns), x.iteration) for x in episodes]


def test_appends_torn_tails_rewrites_and_duplicates(runs_root: Path, tmp_path: Path) -> None:
    lines = (runs_root / "bench" / "doors-random" / "episodes.jsonl").read_text().splitlines()
    path = tmp_path / "episodes.jsonl"
    path.write_text(lines[0] + "\n")
    index = EpisodeIndex(path).refresh()
    assert len(index.entries) == 1 and index.torn_tail == 0
    with path.open("a") as handle:  # a writer in the middle of a line
        handle.write(lines[1][:50])
    assert len(index.refresh().entries) == 1 and index.torn_tail == 50
    with path.open("a") as handle:
        handle.write(lines[1][50:] + "\n" + lines[2] + "\n")
    assert len(index.refresh().entries) == 3 and index.torn_tail == 0
    retried = json.loads(lines[0])
    retried.update({"status": "error", "error": "Traceback\nRuntimeError: boom"})
    with path.open("a") as handle:  # an error episode recorded again: its last record counts, in its first place
        handle.write(json.dumps(retried) + "\n")
    entries = index.refresh().entries
    assert len(entries) == 3 and entries[0].outcome == "error" and entries[0].error == "RuntimeError: boom"
    assert index.read(entries[0].episode_id)["status"] == "error"
    tmp = tmp_path / "rewrite.tmp"  # what RunStore.keep_only does on resume: a new file renamed into place
    tmp.write_text(lines[2] + "\n")
    os.replace(tmp, path)
    assert [e.episode_id for e in index.refresh().entries] == [json.loads(lines[2])["episode_id"]]
    assert index.read(json.loads(lines[0])["episode_id"]) is None


def test_corrupt_lines_are_reported_and_skipped(runs_root: Path) -> None:
    index = EpisodeIndex(runs_root / "broken" / "corrupt" / "episodes.jsonl").refresh()
    assert len(index.entries) == 3
    assert [n for n, _ in index.corrupt] == [2, 4, 5]


def test_search_looks_in_responses_only(runs_root: Path) -> None:
    run = runs_root / "bench" / "doors-random"
    index = EpisodeIndex(run / "episodes.jsonl").refresh()
    episodes = read_episodes(run)
    needle = "<action>" + episodes[0].turns[0].response.text.split("<action>")[1][:1]
    expected = {e.episode_id for e in episodes if any(needle.lower() in t.response.text.lower() for t in e.turns)}
    assert 0 < len(expected) <= len(episodes)
    assert index.search_responses(needle.upper(), index.entries) == expected
    assert index.search_responses("Admissible actions", index.entries) == set()  # only in the prompts
    odd = EpisodeIndex(runs_root / "broken" / "odd-records" / "episodes.jsonl").refresh()
    assert odd.search_responses("nothing like this", odd.entries) == set()
