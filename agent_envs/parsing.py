"""Extracting the action from a raw model response (verl-agent's `<action>...</action>` convention)."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
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
    """Normalise an extracted action: NFKC, control characters removed, whitespace collapsed, length capped."""
    action = unicodedata.normalize("NFKC", action)
    action = _CONTROL.sub(" ", action)
    return " ".join(action.split())[:max_chars]


def describe_response(text: object, limit: int = 80) -> str:
    """A short, printable summary of a (possibly huge or binary-looking) response for feedback messages."""
    if not isinstance(text, str):
        return f"<{type(text).__name__}>"
    if not text.strip():
        return "<empty response>"
    shown = clean_action(text, limit)
    return shown + ("..." if len(text) > limit else "")
