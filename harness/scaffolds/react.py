"""`react`: the whole conversation (as `chat`) in the ReAct format of AgentBench and AgentGym: each reply is
`Thought: ...` then `Action: ...`, each observation comes back as `Observation: ...`.

The env receives the text after the last `Action:` (a fenced block: its content) written in the env's own action
format (`TextEnv.action_format`, e.g. `<action>...</action>`); a reply without `Action:` reaches the env as it is.
"""

from __future__ import annotations

import re

from harness.scaffolds.chat import ChatTranscript
from harness.types import PolicyResponse

_ACTION = re.compile(r"^[ \t>*#]*action[ \t]*:[ \t]*", re.IGNORECASE | re.MULTILINE)
_FENCED = re.compile(r"^```[^\n]*\n(.*?)(?:\n```|$)", re.DOTALL)


def react_action(text: str) -> str | None:
    """The action of a ReAct reply: after the last `Action:`, its first line or its fenced block; None if none."""
    matches = list(_ACTION.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].strip()
    fenced = _FENCED.match(rest)
    if fenced:
        return fenced.group(1).strip() or None
    line = rest.split("\n", 1)[0].strip()
    for tag in ("<action>", "</action>"):
        line = line.replace(tag, "")
    return line.strip() or None


class ReactTranscript(ChatTranscript):
    """The ReAct conversation of one episode."""

    def action(self, response: PolicyResponse) -> str:
        """The `Action:` of the reply in the env's action format, else the reply itself."""
        action = react_action(response.text)
        return response.text if action is None else self.builder.action_format.format(action=action)
