"""An index of a run's `episodes.jsonl`: one small entry per episode (where its line is, and the fields lists and
filters need), built once and extended as episodes are appended; episodes themselves are read lazily by offset.

Indexing does not parse whole records: `Episode.to_dict()` writes the episode's scalar fields before `turns` and
after it, so each line's head and tail are parsed alone, and the turn count is the last turn's `step` + 1. A line of
another shape (another writer, reordered keys) is parsed whole. A corrupt line is reported and skipped (a line
whose turns alone are damaged shows its error when the episode is opened); a torn last line (no newline yet: a run
writing it, or one killed mid-write) is left for the next refresh.
"""

from __future__ import annotations

import json
import mmap
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_HEAD_END = b', "turns": '
_TAIL_START = b', "total_reward": '
_TURN_START = b'{"step": '
_STEP_END = b', "messages": '
_RESPONSE_TEXT = b'"response": {"text": "'


@dataclass(slots=True)
class Entry:
    """What the viewer keeps in memory per episode."""

    offset: int
    length: int
    line: int
    episode_id: str
    task_id: str
    group_id: str
    sample_index: int
    task_type: str
    status: str
    success: bool
    score: float
    total_reward: float
    turns: int
    iteration: int | None
    phase: str | None
    error: str
    wall_time_s: float

    @property
    def outcome(self) -> str:
        """`error`, `success` or `failure`."""
        return "error" if self.status == "error" else ("success" if self.success else "failure")


def _number(value: Any, default: float = 0.0) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


def _optional_int(value: Any) -> int | None:
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _last_error_line(error: Any) -> str:
    lines = str(error or "").strip().splitlines()
    return lines[-1][:300] if lines else ""


def make_entry(record: dict[str, Any], offset: int, length: int, line: int, turns: int) -> Entry:
    """An entry from a record's scalar fields (missing or mistyped fields get neutral values).

    Raises:
        ValueError: the record has no `episode_id`.
    """
    episode_id = record.get("episode_id")
    if not isinstance(episode_id, str) or not episode_id:
        raise ValueError("no episode_id")
    status = "error" if record.get("status") == "error" else "ok"
    return Entry(offset=offset, length=length, line=line, episode_id=episode_id,
                 task_id=str(record.get("task_id", "?")), group_id=str(record.get("group_id", "")),
                 sample_index=int(_number(record.get("sample_index"))),
                 task_type=str(record.get("task_type", "default")),
                 status=status, success=record.get("success") is True and status == "ok",
                 score=_number(record.get("score")), total_reward=_number(record.get("total_reward")), turns=turns,
                 iteration=_optional_int(record.get("iteration")),
                 phase=record.get("phase") if isinstance(record.get("phase"), str) else None,
                 error=_last_error_line(record.get("error")), wall_time_s=_number(record.get("wall_time_s")))


def _fast_entry(buf: Any, start: int, end: int, line: int) -> Entry | None:
    """The entry of line `buf[start:end]` from its head, tail and last turn; None when the line has another shape."""
    head_end = buf.find(_HEAD_END, start, min(end, start + 4096))
    tail = buf.rfind(_TAIL_START, start, end)
    if head_end < 0 or tail < head_end:
        return None
    try:
        head = json.loads(buf[start:head_end] + b"}")
        rest = json.loads(b"{" + buf[tail + 2 : end])
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    turns_start = head_end + len(_HEAD_END)
    if buf[turns_start : turns_start + 2] == b"[]":
        count = 0
    else:  # the last turn starts `{"step": N, "messages": ` (turns are numbered from 0 in order)
        last = buf.rfind(_TURN_START, turns_start, tail)
        digits_end = buf.find(_STEP_END, last, last + 40) if last >= 0 else -1
        if digits_end < 0 or not buf[last + len(_TURN_START) : digits_end].isdigit():
            return None
        count = int(buf[last + len(_TURN_START) : digits_end]) + 1
    if not isinstance(head, dict) or not isinstance(rest, dict):
        return None
    return make_entry({**head, **rest}, start, end - start, line, count)


def _full_entry(buf: Any, start: int, end: int, line: int) -> Entry:
    """The entry of a line parsed whole. Raises ValueError for a corrupt record."""
    try:
        record = json.loads(buf[start:end])
    except json.JSONDecodeError as exc:
        raise ValueError(f"not JSON ({exc.msg})") from None
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    if not isinstance(record, dict):
        raise ValueError("not a JSON object")
    turns = record.get("turns")
    return make_entry(record, start, end - start, line, len(turns) if isinstance(turns, list) else 0)


class EpisodeIndex:
    """The episodes of one `episodes.jsonl`, refreshed on demand.

    `entries` keeps first-seen order; an episode recorded twice (an error retried on resume) is its last record, as
    `harness.storage.read_episodes` reads it.
    """

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self.entries: list[Entry] = []
        self.by_id: dict[str, int] = {}
        self.corrupt: list[tuple[int, str]] = []  # (line number, why)
        self.indexed_bytes = 0
        self.lines = 0
        self.torn_tail = 0  # bytes after the last newline
        self._inode: int | None = None
        self._searches: dict[tuple[str, int], set[str]] = {}

    # ----- indexing -----------------------------------------------------------------------------------------------
    def refresh(self) -> EpisodeIndex:
        """Index what was appended since the last call (all of it again if the file was replaced or shrank)."""
        with self._lock:
            try:
                stat = self.path.stat()
            except OSError:
                self._reset()
                return self
            if stat.st_ino != self._inode or stat.st_size < self.indexed_bytes:
                self._reset()
                self._inode = stat.st_ino
            if stat.st_size != self.indexed_bytes + self.torn_tail:  # appended, or a torn tail completed or cut
                self._index_from(self.indexed_bytes)
            return self

    def _index_from(self, start: int) -> None:
        with open(self.path, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            if size <= start:
                self.torn_tail = 0
                return
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                pos = start
                while pos < size:
                    newline = buf.find(b"\n", pos, size)
                    if newline < 0:
                        break
                    self.lines += 1
                    if newline > pos and buf[pos:newline].strip():
                        self._add(buf, pos, newline, self.lines)
                    pos = newline + 1
                self.indexed_bytes, self.torn_tail = pos, size - pos
        self._searches.clear()

    def _add(self, buf: Any, start: int, end: int, line: int) -> None:
        entry = _fast_entry(buf, start, end, line)
        if entry is None:
            try:
                entry = _full_entry(buf, start, end, line)
            except ValueError as exc:
                self.corrupt.append((line, str(exc)))
                return
        known = self.by_id.get(entry.episode_id)
        if known is None:
            self.by_id[entry.episode_id] = len(self.entries)
            self.entries.append(entry)
        else:
            self.entries[known] = entry

    # ----- reading ------------------------------------------------------------------------------------------------
    def get(self, episode_id: str) -> Entry | None:
        """The entry of `episode_id`, or None."""
        with self._lock:
            position = self.by_id.get(episode_id)
            return None if position is None else self.entries[position]

    def read(self, episode_id: str) -> dict[str, Any] | None:
        """The full record of `episode_id` (None if unknown); re-indexes once if the file changed under the index.

        Raises:
            ValueError: the record cannot be parsed.
        """
        line = 0
        for attempt in range(2):
            entry = self.refresh().get(episode_id)
            if entry is None:
                return None
            line = entry.line
            with open(self.path, "rb") as handle:
                handle.seek(entry.offset)
                raw = handle.read(entry.length)
            try:
                record = json.loads(raw)
            except (json.JSONDecodeError, UnicodeDecodeError):
                record = None
            if isinstance(record, dict) and record.get("episode_id") == episode_id:
                return record
            if attempt == 0:  # the file was rewritten (a resumed training run drops later iterations)
                with self._lock:
                    self._reset()
        raise ValueError(f"the record of {episode_id!r} at line {line} cannot be read")

    # ----- search -------------------------------------------------------------------------------------------------
    def search_responses(self, query: str, entries: list[Entry]) -> set[str]:
        """Ids of the `entries` whose response text contains `query` (case-insensitive), without parsing records.

        Each turn's response text is the string after `"response": {"text": "`; records of another shape are
        parsed whole.
        """
        needle = query.lower()
        key = (needle, self.indexed_bytes)
        cached = self._searches.get(key)
        if cached is not None:
            return {e.episode_id for e in entries if e.episode_id in cached}
        found: set[str] = set()
        if needle and entries and self.path.is_file():
            with open(self.path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as buf:
                for entry in entries:
                    if entry.offset + entry.length <= len(buf) and _entry_matches(buf, entry, needle):
                        found.add(entry.episode_id)
        if len(entries) == len(self.entries):  # cache only complete searches (they stand for any filter)
            self._searches[key] = found
        return found


def _string_end(buf: Any, start: int, end: int) -> int:
    """Index of the closing quote of the JSON string starting at `start` (-1 if none before `end`)."""
    pos = start
    while True:
        quote = buf.find(b'"', pos, end)
        if quote < 0:
            return -1
        backslashes = 0
        while buf[quote - 1 - backslashes] == 0x5C:  # backslash
            backslashes += 1
        if backslashes % 2 == 0:
            return quote
        pos = quote + 1


def _entry_matches(buf: Any, entry: Entry, needle: str) -> bool:
    start, end = entry.offset, entry.offset + entry.length
    seen = 0
    pos = buf.find(_RESPONSE_TEXT, start, end)
    while pos >= 0:
        seen += 1
        text_start = pos + len(_RESPONSE_TEXT)
        text_end = _string_end(buf, text_start, end)
        if text_end < 0:
            break
        raw = buf[text_start:text_end]
        try:
            text = json.loads(b'"' + raw + b'"') if b"\\" in raw else raw.decode("utf-8", "replace")
        except json.JSONDecodeError:
            text = raw.decode("utf-8", "replace")
        if needle in text.lower():
            return True
        pos = buf.find(_RESPONSE_TEXT, text_end, end)
    if seen == 0 and entry.turns:  # another shape: parse it
        try:
            record = json.loads(buf[start:end])
        except (json.JSONDecodeError, UnicodeDecodeError):
            return False
        turns = record.get("turns") if isinstance(record, dict) else None
        for turn in turns if isinstance(turns, list) else []:
            response = turn.get("response") if isinstance(turn, dict) else None
            text = response.get("text") if isinstance(response, dict) else None
            if isinstance(text, str) and needle in text.lower():
                return True
    return False

