"""`python -m harness.train ...` = `aemgym train ...` (works without the console script)."""

from __future__ import annotations

import typer

from harness.commands.train import train

if __name__ == "__main__":
    typer.run(train)
