"""Prompt templates for ALFWorld, per harness scaffold (`str.format` fields: instruction, step, history_length,
history, observation, admissible_actions).

`verl_agent` follows verl-agent's layout (task, steps so far, the last observation/action pairs, admissible actions,
`<think>`/`<action>` tags; `verl_agent_no_history` on step 0). `chat` is the same wording as a conversation (task
and first observation, then each observation with its admissible actions); `react` is AgentGym's ALFWorld layout
(Thought/Action replies, the available actions with each observation); `tools` drives the `act` tool.
"""

from __future__ import annotations

_ROLE = "You are an expert agent operating in the ALFRED Embodied Environment."
_ANSWER_FORMAT = (
    "Now it's your turn to take an action.\n"
    "You should first reason step-by-step about the current situation. This reasoning process MUST be enclosed "
    "within <think> </think> tags.\n"
    "Once you've finished your reasoning, you should choose an admissible action for current step and present it "
    "within <action> </action> tags."
)
_NOW = "Your current observation is: {observation}\nYour admissible actions of the current situation are: "

PROMPTS: dict[str, str] = {
    "verl_agent": (
        _ROLE + " Your task is to: {instruction}\n"
        "Prior to this step, you have already taken {step} step(s). Below are the most recent {history_length} "
        "observations and the corresponding actions you took: {history}\n"
        + _NOW + "[{admissible_actions}].\n\n" + _ANSWER_FORMAT
    ),
    "verl_agent_no_history": _ROLE + "\n" + _NOW + "[{admissible_actions}].\n\n" + _ANSWER_FORMAT,
    "chat": _ROLE + " Your task is to: {instruction}\n" + _NOW + "[{admissible_actions}].\n\n" + _ANSWER_FORMAT,
    "chat_observation": _NOW + "[{admissible_actions}].\n\nThink inside <think> </think>, then give one admissible "
                        "action inside <action> </action>.",
    "react_system": (
        "Interact with a household to solve a task. Imagine you are an intelligent agent in a household environment "
        "and your target is to perform actions to complete the task goal. Each turn you see what happened and the "
        "actions available now. Reply in this format:\nThought: your reasoning\nAction: one available action"
    ),
    "react": "Your task is to: {instruction}\nObservation: {observation}\nAvailable actions: [{admissible_actions}]",
    "react_observation": "Observation: {observation}\nAvailable actions: [{admissible_actions}]",
    "tools_system": _ROLE + " Act by calling the `act` tool with one admissible command in every reply.",
    "tools": "Your task is to: {instruction}\n" + _NOW + "[{admissible_actions}].",
    "tools_observation": _NOW + "[{admissible_actions}].",
}
