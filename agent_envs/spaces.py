"""A text space for LLM I/O: any Unicode string up to a maximum length.

`gymnasium.spaces.Text` only admits a fixed charset (alphanumerics by default), so model output with spaces,
punctuation, newlines or other scripts would fail `contains`. `UnicodeText` checks type and length only.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium import spaces

_SAMPLE_ALPHABET = np.array(list(string.ascii_letters + string.digits + " .,:;!?-_()[]<>/'\"\n"))


class UnicodeText(spaces.Space[str]):
    """Any `str` with `min_length <= len(x) <= max_length`.

    `sample()` returns short printable strings (for `check_env` and smoke tests), not model-like text.
    """

    def __init__(
        self, max_length: int = 1 << 20, *, min_length: int = 0, seed: int | np.random.Generator | None = None
    ):
        if not 0 <= min_length <= max_length:
            raise ValueError(f"need 0 <= min_length <= max_length, got {min_length=} {max_length=}")
        self.min_length = int(min_length)
        self.max_length = int(max_length)
        super().__init__(shape=None, dtype=str, seed=seed)

    @property
    def is_np_flattenable(self) -> bool:
        """Text cannot be flattened into a fixed-size array."""
        return False

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """A random printable string of length in [min_length, min(max_length, 64)]."""
        high = max(self.min_length, min(self.max_length, 64))
        length = int(self.np_random.integers(self.min_length, high + 1))
        return "".join(self.np_random.choice(_SAMPLE_ALPHABET, size=length))

    def contains(self, x: Any) -> bool:
        """True for a `str` whose length is within bounds."""
        return isinstance(x, str) and self.min_length <= len(x) <= self.max_length

    def __repr__(self) -> str:
        return f"UnicodeText(min_length={self.min_length}, max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, UnicodeText)
            and other.min_length == self.min_length
            and other.max_length == self.max_length
        )

    def __hash__(self) -> int:
        return hash((UnicodeText, self.min_length, self.max_length))
