"""Prompts for SWE-bench episodes, per harness scaffold (`str.format` fields: instruction, step, history_length,
history, observation, admissible_actions).

`chat` and `tools` are mini-swe-agent 2.4.6's SWE-bench configurations (MIT licence, github.com/SWE-agent/
mini-swe-agent): `chat` = `benchmarks/swebench_backticks.yaml` (one ```mswea_bash_command block per reply), `tools` =
`benchmarks/swebench.yaml` (a `bash` tool; here one call per reply). Their system and instance messages are kept word
for word except where a difference is unavoidable (one tool call per reply); the observations and format errors
come from `actions.py` / `env.py` in mini-swe-agent's layout. `SCAFFOLD_DEFAULTS` sets its step limit (250) and
its limit of 3 consecutive format errors. See README.md ("Compared with mini-swe-agent") for what still differs.
`verl_agent` and `react` are compact prompts for training and for ReAct-style comparisons.
"""

from __future__ import annotations

from typing import Any

from agent_envs.tools import function_tool

TOOLS: list[dict[str, Any]] = [
    function_tool("bash", "Execute a bash command",
                  {"command": {"type": "string", "description": "The bash command to execute"}}, ["command"]),
    function_tool("submit", "Submit your changes for grading (the repository's git diff); ends the task."),
]

#: Fed back for a reply without exactly one command block (mini-swe-agent's `format_error_template`).
FORMAT_ERROR = """Format error:

<error>
{reason}
</error>

Here is general guidance on how to format your response:

Please always provide EXACTLY ONE action in triple backticks.

Please format your action in triple backticks as shown in <response_example>.

<response_example>
Here are some thoughts about why you want to perform the action.

```mswea_bash_command
<action>
```
</response_example>

If you have completed your assignment, please consult the first message about how to
submit your solution (you will not be able to continue working on this task after that)."""

#: Fed back for a reply without exactly one usable tool call (mini-swe-agent's tool-call `format_error_template`).
TOOL_ERROR = """Tool call error:

<error>
{reason}
</error>

Here is general guidance on how to submit correct toolcalls:

Every response needs to use the 'bash' tool exactly once to execute a command.

Call the bash tool with your command as the argument:
- Tool: bash
- Arguments: {{"command": "your_command_here"}}

If you have completed your assignment, please consult the first message about how to
submit your solution (you will not be able to continue working on this task after that)."""

_SUBMISSION = """## Submission

When you've completed your work, you MUST submit your changes as a git patch.
Follow these steps IN ORDER, with SEPARATE commands:

Step 1: Create the patch file
Run `git diff -- path/to/file1 path/to/file2 > patch.txt` listing only the source files you modified.
Do NOT commit your changes.

<IMPORTANT>
The patch must only contain changes to the specific source files you modified to fix the issue.
Do not submit file creations or changes to any of the following files:

- test and reproduction files
- helper scripts, tests, or tools that you created
- installation, build, packaging, configuration, or setup scripts unless they are directly part of the issue you were fixing (you can assume that the environment is already set up for your client)
- binary or compiled files
</IMPORTANT>

Step 2: Verify your patch
Inspect patch.txt to confirm it only contains your intended changes and headers show `--- a/` and `+++ b/` paths.

Step 3: Submit (EXACT command required)
You MUST use this EXACT command to submit:

```<FENCE>
echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT && cat patch.txt
```

If the command fails (nonzero exit status), it will not submit.

<CRITICAL>
- Creating/viewing the patch and submitting it MUST be separate commands (not combined with &&).
- If you modify patch.txt after verifying, you SHOULD verify again before submitting.
- You CANNOT continue working (reading, editing, testing) in any way on this task after submitting.
</CRITICAL>
</instructions>"""  # noqa: E501

_OVERVIEW = """<pr_description>
Consider the following PR description:
{instruction}
</pr_description>

<instructions>
# Task Instructions

## Overview

You're a software engineer interacting continuously with a computer by submitting commands.
You'll be helping implement necessary changes to meet requirements in the PR description.
Your task is specifically to make changes to non-test files in the current directory in order to fix the issue described in the PR description in a way that is general and consistent with the codebase.
"""  # noqa: E501

_BOUNDARIES = """## Important Boundaries

- MODIFY: Regular source code files in /testbed (this is the working directory for all your subsequent commands)
- DO NOT MODIFY: Tests, configuration files (pyproject.toml, setup.cfg, etc.)

## Recommended Workflow

1. Analyze the codebase by finding and reading relevant files
2. Create a script to reproduce the issue
3. Edit the source code to resolve the issue
4. Verify your fix works by running your script again
5. Test edge cases to ensure your fix is robust
"""

_ENVIRONMENT = """## Environment Details

- You have a full Linux shell environment
- Always use non-interactive flags (-y, -f) for commands
- Avoid interactive tools like vi, nano, or any that require user input
- You can use bash commands or invoke any tool that is available in the environment
- You can also create new tools or scripts to help you with the task
- If a tool isn't available, you can also install it
"""

_BACKTICKS = """
<IMPORTANT>This is an interactive process where you will think and issue ONE command, see its result, then think and issue your next command.</IMPORTANT>

For each response:

1. Include a THOUGHT section explaining your reasoning and what you're trying to accomplish
2. Provide exactly ONE bash command to execute

<BOUNDARIES>
## Command Execution Rules

You are operating in an environment where

1. You write a single command
2. The system executes that command in a subshell
3. You see the result
4. You write your next command

Each response should include:

1. A **THOUGHT** section where you explain your reasoning and plan
2. A single bash code block with your command

Format your responses like demonstrated within the <format_example> block:

<format_example>
THOUGHT: Here I explain my reasoning process, analysis of the current situation,
and what I'm trying to accomplish with the command below.

```mswea_bash_command
your_command_here
```
</format_example>

Commands must be specified in a single bash code block:

```mswea_bash_command
your_command_here
```

**CRITICAL REQUIREMENTS:**

- Your response SHOULD include a THOUGHT section explaining your reasoning
- Your response MUST include EXACTLY ONE bash code block
- This bash block MUST contain EXACTLY ONE command (or a set of commands connected with && or ||)
- If you include zero or multiple bash blocks, or no command at all, YOUR RESPONSE WILL FAIL
- Do NOT try to run multiple independent commands in separate blocks in one response
- Directory or environment variable changes are not persistent. Every action is executed in a new subshell.
- However, you can prefix any action with `MY_ENV_VAR=MY_VALUE cd /path/to/working/dir && ...` or write/load environment variables from files

Example of a CORRECT response:
<example_response>
THOUGHT: I need to understand the structure of the repository first. Let me check what files are in the current directory to get a better understanding of the codebase.

```mswea_bash_command
ls -la
```
</example_response>

Example of an INCORRECT response:

<example_response>
THOUGHT: I need to examine the codebase and then look at a specific file. I'll run multiple commands to do this.

```mswea_bash_command
ls -la
```

Now I'll read the file:

```mswea_bash_command
cat file.txt
```
</example_response>

If you need to run multiple commands, either:

1. Combine them in one block using && or ||
```mswea_bash_command
command1 && command2 || echo "Error occurred"
```

2. Wait for the first command to complete, see its output, then issue the next command in your following response.

<ENVIRONMENT>
"""  # noqa: E501

_TOOLCALLS = """<IMPORTANT>This is an interactive process where you will think and issue ONE command, see its result, then think and issue your next command.</IMPORTANT>

For each response:

1. Include a THOUGHT section explaining your reasoning and what you're trying to accomplish
2. Provide exactly ONE bash tool call to execute

<BOUNDARIES>
## Command Execution Rules

You are operating in an environment where

1. You issue one command
3. The system executes the command in a subshell
4. You see the result
5. You write your next command

Each response should include:

1. **Reasoning text** where you explain your analysis and plan
2. Exactly one tool call with your command

**CRITICAL REQUIREMENTS:**

- Your response SHOULD include reasoning text explaining what you're doing
- Your response MUST include EXACTLY ONE bash tool call.
- Directory or environment variable changes are not persistent. Every action is executed in a new subshell.
- However, you can prefix any action with `MY_ENV_VAR=MY_VALUE cd /path/to/working/dir && ...` or write/load environment variables from files

Example of a CORRECT response:
<example_response>
I need to understand the Builder-related code. Let me find relevant files and check the project structure.

[Makes one bash tool call: {{"command": "find src -name '*.java' | grep -i builder"}}]
</example_response>

<ENVIRONMENT>
"""  # noqa: E501


def _instance(rules: str, fence: str) -> str:
    body = rules.replace("<BOUNDARIES>", _BOUNDARIES).replace("<ENVIRONMENT>", _ENVIRONMENT)
    return _OVERVIEW + body + _SUBMISSION.replace("<FENCE>", fence)


_SHORT_RULES = """You are a software engineer working in a repository at /testbed (a git checkout, no network).
Fix the issue below by editing non-test source files. Each reply must contain exactly ONE bash command in a
```bash code block; it runs in a fresh shell in /testbed (files persist, `cd` and variables do not) and you see its
exit code and output. Edit files with sed, python or a heredoc (cat <<'EOF' > file). Run the tests to check your fix.
When you are done, reply with:
```bash
submit
```
Your changes (git diff against the base commit) are then graded by the repository's tests."""

PROMPTS: dict[str, str] = {
    "chat_system": (
        "You are a helpful assistant that can interact multiple times with a computer shell to solve programming "
        "tasks.\nYour response must contain exactly ONE bash code block with ONE command (or commands connected with "
        "&& or ||).\n\nInclude a THOUGHT section before your command where you explain your reasoning process.\n"
        "Format your response as shown in <format_example>.\n\n<format_example>\nTHOUGHT: Your reasoning and analysis "
        "here\n\n```mswea_bash_command\nyour_command_here\n```\n</format_example>\n\nFailure to follow these rules "
        "will cause your response to be rejected."
    ),
    "chat": _instance(_BACKTICKS, "mswea_bash_command"),
    "chat_observation": "{observation}",
    "tools_system": "You are a helpful assistant that can interact with a computer shell to solve programming tasks.",
    "tools": _instance(_TOOLCALLS, "bash"),
    "tools_observation": "{observation}",
    "react_system": (
        "You are a software engineer fixing an issue in the repository at /testbed. Answer every turn in this form:\n"
        "Thought: your reasoning\nAction:\n```bash\none command\n```\nWhen the fix is done, the action is `submit`."
    ),
    "react": _SHORT_RULES + "\n\nIssue:\n{instruction}",
    "react_observation": "Observation: {observation}",
    "verl_agent": _SHORT_RULES + """

<issue>
{instruction}
</issue>

Step {step}. Your last {history_length} commands and their results:
{history}

Current observation:
{observation}

Think briefly, then give your next command in one ```bash block.""",
}

#: Run settings that come with a scaffold (dotted config keys; what the command line sets wins): mini-swe-agent's
#: `step_limit: 250`, `max_consecutive_format_errors: 3`, and no submission when a limit ends the run.
_MINI_LIMITS = {"env.max_steps": 250, "env.kwargs.max_format_errors": 3, "env.kwargs.grade_on_truncation": False}
SCAFFOLD_DEFAULTS: dict[str, dict[str, Any]] = {"chat": dict(_MINI_LIMITS), "tools": dict(_MINI_LIMITS)}
