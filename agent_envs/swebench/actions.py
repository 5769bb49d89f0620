"""The action format (one bash command per turn, mini-swe-agent style) and the observation format.

A response must contain exactly one fenced block: mini-swe-agent's ```mswea_bash_command when there is one, else
```bash, ```sh or a bare ```; its content is the command. The episode is submitted when the command is `submit` or
when its output's first line is the sentinel `COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT` (mini-swe-agent's convention).
The patch is always taken from the sandbox by the env, never from the model's output.

Observations follow mini-swe-agent 2.4's SWE-bench configs: `<returncode>`/`<output>` (or, past 10,000 characters,
a warning with `<output_head>`, `<elided_chars>`, `<output_tail>`) for text actions (`swebench_backticks.yaml`), and
the output followed by `[exit code N]` for tool calls (`swebench.yaml`).
"""

from __future__ import annotations

import re

from agent_envs.sandbox.base import TRUNCATION_MARKER, ExecResult

SUBMIT_SENTINEL = "COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
MAX_COMMAND_CHARS = 100_000
MINI_FENCE = "mswea_bash_command"
_MINI = re.compile(r"```mswea_bash_command\s*\n(.*?)\n```", re.DOTALL)  # mini-swe-agent's action_regex
_FENCE = re.compile(r"```[ \t]*(?:bash|sh|shell|console)?[ \t]*\n(.*?)```", re.DOTALL)
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_MARKER = re.compile(re.escape(TRUNCATION_MARKER).replace(r"\{elided\}", r"(\d+)").replace(r"\{total\}", r"(\d+)"))
_TOO_LONG = """<warning>
The output of your last command was too long.
Please try a different command that produces less output.
If you're looking at a file you can try use head, tail or sed to view a smaller number of lines selectively.
If you're using grep or find and it produced too much output, you can use a more selective search pattern.
If you really need to see something from the full command's output, you can redirect output to a file and then search in that file.
</warning>"""  # noqa: E501 - mini-swe-agent's wording


class ParseError(ValueError):
    """The response has no usable command (the message is fed back to the model)."""


def parse_command(response: str) -> str:
    """The bash command in `response`; raises `ParseError` saying what is wrong."""
    if not isinstance(response, str):
        raise ParseError("the response is not text")
    blocks = _MINI.findall(response) or _FENCE.findall(response)
    if not blocks:
        raise ParseError("no ```bash code block found")
    if len(blocks) > 1:
        raise ParseError(f"found {len(blocks)} code blocks; give exactly one command per turn")
    return check_command(blocks[0])


def check_command(command: str) -> str:
    """`command` stripped; raises `ParseError` when it is empty, too long or holds a NUL character."""
    command = command.strip()
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


def _head_tail(result: ExecResult) -> tuple[str, int, str] | None:
    """(head, elided characters, tail) of an output the sandbox truncated, else None."""
    match = _MARKER.search(result.output) if result.truncated else None
    if match is None:
        return None
    return result.output[: match.start()], int(match.group(1)), result.output[match.end() :]


def format_observation(result: ExecResult, *, tool: bool = False) -> str:
    """What the model sees after a command, as mini-swe-agent shows it (`tool`: the tool-call layout).

    A stopped command (timeout, output or time limit) gets mini-swe-agent's `<exception>` line with the reason.
    """
    split = _head_tail(result)
    if tool:
        text = f"Exception: {result.note}\n" if result.note else ""
        if split is None:
            return text + f"{result.output}[exit code {result.exit_code}]"
        head, elided, tail = split
        return text + f"{head}\n... [{elided} characters elided] ...\n{tail}[exit code {result.exit_code}]"
    text = f"<exception>{result.note}</exception>\n" if result.note else ""
    text += f"<returncode>{result.exit_code}</returncode>\n"
    if split is None:
        return text + f"<output>\n{result.output}</output>"
    head, elided, tail = split
    return (text + f"{_TOO_LONG}\n<output_head>\n{head}\n</output_head>\n<elided_chars>\n{elided} characters elided\n"
            f"</elided_chars>\n<output_tail>\n{tail}\n</output_tail>")


def fence(command: str, lang: str = "bash") -> str:
    """A response containing `command` in the expected format (for scripted policies and the expert)."""
    return f"```{lang}\n{command}\n```"
