"""The flags `bench` and `train` share: one name and one meaning each, all shorthands for dotted config keys.

`-c/--config` takes YAML files and `key=value` overrides (repeatable, applied in order); the flags are applied
after them. Errors in a configuration print one line and exit with status 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
import yaml

from harness.config import Section, load_config

SAMPLING = "Sampling"
ConfigT = TypeVar("ConfigT", bound=Section)

Config = Annotated[list[str] | None, typer.Option(
    "--config", "-c", help="YAML config file or key=value override (repeatable, applied in order).")]
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Run directory (default: a new one under runs/).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --out; refused if its configuration "
                                      "differs in anything that changes results.")]
Policy = Annotated[str | None, typer.Option(
    "--policy", "-p", help="smollm2, tiny, hf:<dir>, openai[:model], expert, random, or pkg.module:Class.")]
Concurrency = Annotated[int | None, typer.Option("--concurrency", "-j", help="Episodes in flight.")]
Executor = Annotated[str | None, typer.Option(help="Where envs run: thread, inline, process, ray.")]
Split = Annotated[str | None, typer.Option(help="Task split.")]
MaxSteps = Annotated[int | None, typer.Option("--max-steps", help="Turn limit (default: the env's registered one).")]
EnvArg = Annotated[list[str] | None, typer.Option("--env-arg", help="Env constructor argument key=value (repeatable).")]
PolicyArg = Annotated[list[str] | None, typer.Option("--policy-arg", help="Policy argument key=value (repeatable).")]
Seed = Annotated[int | None, typer.Option(help="Seed.")]
Temperature = Annotated[float | None, typer.Option(help="Sampling temperature (0 = greedy).",
                                                   rich_help_panel=SAMPLING)]
MaxNewTokens = Annotated[int | None, typer.Option(help="Max tokens per response.", rich_help_panel=SAMPLING)]
BaseUrl = Annotated[str | None, typer.Option(help="OpenAI-compatible base URL (or AEMGYM_BASE_URL).",
                                             rich_help_panel=SAMPLING)]
Model = Annotated[str | None, typer.Option(help="Model name on the endpoint (or AEMGYM_MODEL).",
                                           rich_help_panel=SAMPLING)]
ApiKey = Annotated[str | None, typer.Option(help="API key (or AEMGYM_API_KEY / OPENAI_API_KEY); never stored.",
                                            rich_help_panel=SAMPLING)]
Template = Annotated[str | None, typer.Option(help="Prompt template: a name from the env's PROMPTS or a literal.")]
History = Annotated[int | None, typer.Option(help="verl_agent: past (observation, action) pairs shown in the prompt.")]
Scaffold = Annotated[str | None, typer.Option(
    help="How each turn is prompted: chat (the whole conversation), verl_agent (task + last pairs; the RL prompt), "
         "react (Thought/Action), tools (OpenAI tool calls).")]


def fail(message: str) -> typer.Exit:
    """Print one red error line; return the exit to raise (status 2)."""
    typer.secho(f"error: {message}", fg="red", err=True)
    return typer.Exit(2)


def pairs(prefix: str, items: list[str] | None) -> dict[str, Any]:
    """`["a=1", "b=x"]` → `{"<prefix>.a": 1, "<prefix>.b": "x"}` (values parsed as YAML)."""
    out = {}
    for item in items or []:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise fail(f"expected key=value, got {item!r}")
        out[f"{prefix}.{key}"] = yaml.safe_load(raw)
    return out


def split_deprecated_concurrency(specs: list[str] | None) -> tuple[list[str], int | None]:
    """`-c N` (a bare integer) meant the concurrency before `-c` became `--config`: take it, with a note."""
    kept, concurrency = [], None
    for spec in specs or []:
        if spec.isdigit() and not Path(spec).exists():
            typer.secho(f"note: `-c {spec}` for the concurrency is deprecated; use `--concurrency {spec}` or "
                        f"`-j {spec}` (-c now takes config files and key=value overrides)", fg="yellow", err=True)
            concurrency = int(spec)
        else:
            kept.append(spec)
    return kept, concurrency


def resumed_specs(out: Path | None, resume: bool, specs: list[str]) -> list[str]:
    """With `--resume`, the run's stored configuration comes first: only what the command line changes is new."""
    stored = out / "config.json" if out is not None else None
    return [str(stored), *specs] if resume and stored is not None and stored.is_file() else specs


def build_config(cls: type[ConfigT], specs: list[str], flags: dict[str, Any]) -> ConfigT:
    """`load_config` with the command's flags; a bad configuration exits with one clear line."""
    from pydantic import ValidationError

    try:
        return load_config(cls, specs, flags)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise fail(f"invalid config: {problems}") from None
    except (ValueError, FileNotFoundError, yaml.YAMLError) as exc:
        raise fail(f"invalid config: {exc}") from None
