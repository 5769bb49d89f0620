"""Per-token heat maps of a response: each generated token coloured by its log-prob, its text where the run's
tokenizer is cheap to get (the tiny byte-level model's bytes, or a local `tokenizer.json` read with `tokenizers`),
otherwise its id.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from harness.view.html import Markup, join, tag

Decoder = Callable[[Sequence[int]], list[str]]
_DECODERS: dict[str, Decoder | None] = {}
_LOCK = threading.Lock()


def _byte_decoder(ids: Sequence[int]) -> list[str]:
    r"""The tiny model's tokens: id = byte value (printable ASCII as is, other bytes as \xNN), then 5 specials."""
    from harness.models.tiny import SPECIAL_TOKENS

    out = []
    for i in ids:
        if 0 <= i < 256:
            out.append(chr(i) if 32 <= i < 127 or i in (9, 10) else f"\\x{i:02x}")
        elif 0 <= i - 256 < len(SPECIAL_TOKENS):
            out.append(SPECIAL_TOKENS[i - 256])
        else:
            out.append(f"[{i}]")
    return out


def _file_decoder(path: Path) -> Decoder | None:
    try:
        from tokenizers import Tokenizer
    except ImportError:
        return None
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception:  # noqa: BLE001 - an unreadable tokenizer file means ids are shown instead
        return None
    return lambda ids: tokenizer.decode_batch([[int(i)] for i in ids], skip_special_tokens=False)


def tokenizer_file(model_name: str | None) -> Path | None:
    """The `tokenizer.json` of a local model name (`smollm2`, `hf:<dir>`), if it is on this machine."""
    if not model_name:
        return None
    if model_name == "smollm2":
        from harness.models.smollm2 import cache_dir

        path = cache_dir() / "tokenizer.json"
    elif model_name.startswith("hf:"):
        path = Path(model_name[3:]) / "tokenizer.json"
    else:
        return None
    return path if path.is_file() else None


def decoder_for(config: dict[str, Any]) -> Decoder | None:
    """How to show a run's token ids as text (None: show the ids). `config` is the run configuration."""
    sections = [config.get(key) for key in ("policy", "model")]
    names = [s.get("name") for s in sections if isinstance(s, dict) and isinstance(s.get("name"), str)]
    if "tiny" in names:
        return _byte_decoder
    for name in names:
        path = tokenizer_file(name)
        if path is not None:
            key = str(path)
            with _LOCK:
                if key not in _DECODERS:
                    _DECODERS[key] = _file_decoder(path)
                return _DECODERS[key]
    return None


def _colour(logprob: float) -> str:
    """White for a certain token, deepening red as its probability falls."""
    p = math.exp(max(-50.0, min(0.0, logprob)))
    return f"rgba(220, 40, 40, {0.85 * (1 - p):.2f})"


def heat_map(token_ids: Sequence[Any] | None, logprobs: Sequence[Any] | None,
             decoder: Decoder | None) -> Markup | None:
    """Spans per token, coloured by log-prob (hover: id, log-prob, probability); None when nothing was recorded."""
    if not isinstance(logprobs, list) or not logprobs:
        return None
    values = [float(v) if isinstance(v, (int, float)) else float("nan") for v in logprobs]
    ids = [int(i) if isinstance(i, int) else -1 for i in token_ids] if isinstance(token_ids, list) else []
    texts = None
    if decoder is not None and ids:
        try:
            texts = decoder(ids)
        except Exception:  # noqa: BLE001 - ids the tokenizer does not know: show ids
            texts = None
    spans = []
    for k, logprob in enumerate(values):
        token_id = ids[k] if k < len(ids) else None
        shown = texts[k] if texts is not None and k < len(texts) else (f"[{token_id}]" if token_id is not None
                                                                        else f"[#{k}]")
        shown = shown.replace("\n", "↵\n") if shown.strip() or "\n" in shown else (shown or "∅")
        if math.isfinite(logprob):
            hint = f"#{k} · id {token_id} · log-prob {logprob:.3f} · p {math.exp(min(logprob, 50.0)):.3f}"
            spans.append(tag("span", shown, class_="tok", style=f"background:{_colour(logprob)}", title=hint))
        else:
            spans.append(tag("span", shown, class_="tok", title=f"#{k} · id {token_id} · no log-prob"))
    finite = [v for v in values if math.isfinite(v)]
    mean = sum(finite) / len(finite) if finite else float("nan")
    summary = (f"{len(values)} tokens · mean log-prob {mean:.3f} · perplexity {math.exp(min(-mean, 700.0)):.4g} · "
               f"min {min(finite):.3f}" if finite else f"{len(values)} tokens")
    if len(ids) and len(ids) != len(values):
        summary += f" · {len(ids)} token ids for {len(values)} log-probs"
    if texts is None and ids:
        summary += " · token ids shown (no local tokenizer for this run's model)"
    return tag("div", tag("div", summary, class_="note"), tag("div", join(spans), class_="heat"), class_="heatmap")


def legend() -> Markup:
    """The colour scale of `heat_map`."""
    stops = [0.0, -0.1, -0.5, -1.0, -2.0, -4.0]
    return tag("span", "log-prob: ", *(tag("span", f"{v:g}", class_="tok", style=f"background:{_colour(v)}")
                                       for v in stops), class_="legend-row")

