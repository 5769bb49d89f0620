"""Prompt templates for SWE-bench episodes (`str.format` fields: instruction, step, history_length, history,
observation, admissible_actions). The action format is mini-swe-agent's: one ```bash block per reply."""

from __future__ import annotations

_RULES = """You are a software engineer working in a repository at /testbed (a git checkout, no network).
Fix the issue below by editing non-test source files. Each reply must contain exactly ONE bash command in a
```bash code block; it runs in a fresh shell in /testbed (files persist, `cd` and variables do not) and you see its
exit code and output. Edit files with sed, python or a heredoc (cat <<'EOF' > file). Run the tests to check your fix.
When you are done, reply with:
```bash
submit
```
Your changes (git diff against the base commit) are then graded by the repository's tests."""

PROMPTS: dict[str, str] = {
    "verl_agent": _RULES + """

<issue>
{instruction}
</issue>

Step {step}. Your last {history_length} commands and their results:
{history}

Current observation:
{observation}

Think briefly, then give your next command in one ```bash block.""",
    "react": _RULES + """

Issue:
{instruction}

{history}
Observation: {observation}
Thought:""",
    "mini_swe_agent": _RULES + """

<pr_description>
{instruction}
</pr_description>

{observation}""",
}
