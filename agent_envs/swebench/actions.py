"""The action format (one bash command per turn, mini-swe-agent style) and the observation format.

A response must contain exactly one fenced block (```bash, ```sh or a bare ```); its content is the command. The
episode is submitted when the command is `submit` or when its output's first line is the sentinel
`COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT` (mini-swe-agent's convention). The patch is always taken from the sandbox by
the env, never from the model's output.
"""

from __future__ import annotations

import re

from agent_envs.sandbox.base import ExecResult

SUBMIT_SENTINEL = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
SUBMIT_COMMANDS = ("submit", f"echo {SUBMIT_SENTINEL}")
MAX_COMMAND_CHARS = 100_000
_FENCE = re.compile(r"```[ \t]*(?:bash|sh|shell|console)?[ \t]*\n(.*?)```", re.DOTALL)
_SURROGATE = re.compile(r"[\ud800-\udfff]")


class ParseError(ValueError):
    """The response has no usable command (the message is fed back to the model)."""


def parse_command(response: str) -> str:
    """The bash command in `response`; raises `ParseError` saying what is wrong."""
    if not isinstance(response, str):
        raise ParseError("the response is not text")
    blocks = _FENCE.findall(response)
    if not blocks:
        raise ParseError("no ```bash code block found")
    if len(blocks) > 1:
        raise ParseError(f"found {len(blocks)} code blocks; give exactly one command per turn")
    command = blocks[0].strip()
    if not command:
        raise ParseError("the code block is empty")
    if len(command) > MAX_COMMAND_CHARS:
        raise ParseError(f"the command is longer than {MAX_COMMAND_CHARS} characters")
    if "\x00" in command:
        raise ParseError("the command contains a NUL character")
    if _SURROGATE.search(command):  # cannot be encoded for the shell
        raise ParseError("the command contains a lone UTF-16 surrogate (not valid Unicode text)")
    return command


def is_submit_command(command: str) -> bool:
    """Whether the command itself is a submission (`submit`)."""
    return command.strip() == "submit"


def is_submit_output(result: ExecResult) -> bool:
    """mini-swe-agent's sentinel: a successful command whose first output line is the sentinel."""
    first = result.output.lstrip().split("\n", 1)[0].strip()
    return result.exit_code == 0 and first == SUBMIT_SENTINEL


def format_observation(result: ExecResult) -> str:
    """`<returncode>..</returncode><output>..</output>`, with a warning when the command was stopped or truncated."""
    text = f"<returncode>{result.exit_code}</returncode>\n"
    if result.note:
        text += f"<warning>{result.note}</warning>\n"
    elif result.truncated:
        text += "<warning>the output was long and is shown truncated; use head/tail/grep to see less</warning>\n"
    return text + f"<output>\n{result.output}</output>"


def fence(command: str) -> str:
    """A response containing `command` in the expected format (for scripted policies and the expert)."""
    return f"```bash\n{command}\n```"
