"""Prompt templates for ALFWorld (`str.format` fields: instruction, step, history_length, history, observation,
admissible_actions). `verl_agent` follows verl-agent's layout (task, steps so far, the last observation/action pairs,
admissible actions, `<think>`/`<action>` tags); `verl_agent_no_history` is its no-history variant for step 0;
`react` is a plain think-then-act prompt.
"""

from __future__ import annotations

_ANSWER_FORMAT = (
    "Now it's your turn to take an action.\n"
    "You should first reason step-by-step about the current situation. This reasoning process MUST be enclosed "
    "within <think> </think> tags.\n"
    "Once you've finished your reasoning, you should choose an admissible action for current step and present it "
    "within <action> </action> tags."
)

PROMPTS: dict[str, str] = {
    "verl_agent": (
        "You are an expert agent operating in the ALFRED Embodied Environment. Your task is to: {instruction}\n"
        "Prior to this step, you have already taken {step} step(s). Below are the most recent {history_length} "
        "observations and the corresponding actions you took: {history}\n"
        "Your current observation is: {observation}\n"
        "Your admissible actions of the current situation are: [{admissible_actions}].\n\n" + _ANSWER_FORMAT
    ),
    "verl_agent_no_history": (
        "You are an expert agent operating in the ALFRED Embodied Environment.\n"
        "Your current observation is: {observation}\n"
        "Your admissible actions of the current situation are: [{admissible_actions}].\n\n" + _ANSWER_FORMAT
    ),
    "react": (
        "Interact with a household to solve a task. Your task is to: {instruction}\n"
        "Recent history ({history_length} steps):\n{history}\n"
        "Observation: {observation}\n"
        "Valid actions: {admissible_actions}\n"
        "Think briefly inside <think></think>, then give exactly one valid action inside <action></action>."
    ),
}
DEFAULT_PROMPT = "verl_agent"
