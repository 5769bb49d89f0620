"""Action projection for ALFWorld (verl-agent conventions): model response -> engine command.

The command is the content of the last `<action>...</action>`, lower-cased with whitespace collapsed. A response
without tags is invalid (the env answers the engine's "Nothing happens."). Validity against the game is decided by the
engine's own `admissible_commands`; no verb is hard-coded here.
"""

from __future__ import annotations

from agent_envs.parsing import clean_action, extract_tag

MAX_COMMAND_CHARS = 200  # the longest real ALFWorld command is under 80 characters


def normalize_command(command: str) -> str:
    """Lower-case, collapse whitespace, drop surrounding quotes/brackets and a final period."""
    command = clean_action(command, MAX_COMMAND_CHARS).lower().strip()
    command = command.strip("\"'`[]").strip()
    return command.removesuffix(".").strip()


def project_action(response: str, admissible: list[str] | None = None, *, lenient: bool = False) -> str | None:
    """The command in a raw model response, or None when there is none.

    Args:
        response: the model's full response text.
        admissible: the admissible commands now (used only by `lenient`).
        lenient: also accept a response without tags whose last non-empty line is exactly an admissible command
            (small models often answer that way; verl-agent counts it invalid, so this is off by default).
    """
    if not isinstance(response, str):
        return None
    action = extract_tag(response, "action")
    if action is not None:
        command = normalize_command(action)
        return command or None
    if lenient and admissible:
        lines = [line for line in response[-1000:].splitlines() if line.strip()]
        if lines:
            candidate = normalize_command(lines[-1])
            if candidate in admissible:
                return candidate
    return None


def visible_actions(admissible: list[str]) -> list[str]:
    """The admissible commands shown to a model (verl-agent hides `help`)."""
    return [a for a in admissible if a != "help"]
