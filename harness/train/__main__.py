"""`python -m harness.train ...` = `aemgym train ...` (works without the console script)."""

from __future__ import annotations

import sys

from harness.cli import app

if __name__ == "__main__":
    app(["train", *sys.argv[1:]], prog_name="python -m harness.train")
