"""Extracting the action from a raw model response (verl-agent's `<action>...</action>` convention)."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # lone surrogates: valid in a Python str, not encodable as UTF-8
MAX_ACTION_CHARS = 2000


def extract_tag(text: str, tag: str = "action") -> str | None:
    """The content of the last `<tag>...</tag>` pair in `text`, stripped; None when there is none.

    Uses `rfind`, not a regex, so a 1 MB response costs one linear scan.
    """
    if not isinstance(text, str):
        return None
    close = text.rfind(f"</{tag}>")
    if close < 0:
        return None
    open_tag = f"<{tag}>"
    start = text.rfind(open_tag, 0, close)
    if start < 0:
        return None
    return text[start + len(open_tag) : close].strip()


def clean_action(action: str, max_chars: int = MAX_ACTION_CHARS) -> str:
    """Normalise an extracted action: NFKC, control characters removed, lone surrogates replaced by U+FFFD (so an
    observation that echoes the action is valid UTF-8), whitespace collapsed, length capped.

    Only the first `8 * max_chars` characters are read: NFKC can expand one character into 18, and a megabyte-long
    action is cut to `max_chars` anyway.
    """
    action = unicodedata.normalize("NFKC", action.strip()[: 8 * max_chars])
    action = _SURROGATE.sub("\ufffd", _CONTROL.sub(" ", action))
    return " ".join(action.split())[:max_chars]


def describe_response(text: object, limit: int = 80) -> str:
    """A short, printable summary of a (possibly huge or binary-looking) response for feedback messages."""
    if not isinstance(text, str):
        return f"<{type(text).__name__}>"
    if not text.strip():
        return "<empty response>"
    shown = clean_action(text, limit)
    return shown + ("..." if len(text) > limit else "")


def door_label(response: str, bare: re.Pattern[str] | None = None) -> str | None:
    """The door label a response names: the `<action>` tag's text, else (with `bare`, the lenient mode of the door
    envs) a bare label at its start ("B", "door bac"); upper-cased, without a leading "DOOR ".
    """
    action = extract_tag(response, "action")
    if action is None and bare is not None:
        match = bare.match(response[:64])
        action = match.group(1) if match else None
    if action is None:
        return None
    return action.strip().upper().removeprefix("DOOR ").strip() or None
