"""Prompt templates for WebShop, per harness scaffold (`str.format` fields: instruction, step, history_length,
history, observation, admissible_actions).

`verl_agent` is verl-agent's prompt (`verl_agent_no_history` on step 0); `chat` is its wording as a conversation;
`react` is the ReAct layout of the WebShop paper and AgentGym (Thought/Action, `search[...]` / `click[...]`);
`tools` drives the `search` and `click` tools.
"""

from __future__ import annotations

_ROLE = "You are an expert autonomous agent operating in the WebShop e-commerce platform."
_THINK = (
    "You should first reason step-by-step about the current situation, then think carefully which admissible "
    "action best advances the shopping goal. This reasoning process MUST be enclosed within <think> </think> "
    "tags.\nOnce you've finished your reasoning, you should choose an admissible action for current step and "
    "present it within <action> </action> tags."
)
_ADMISSIBLE = "Your admissible actions of the current situation are: [{admissible_actions}].\n\n"

PROMPTS: dict[str, str] = {
    "verl_agent": (
        _ROLE + "\nYour task is to: {instruction}.\n"
        "Prior to this step, you have already taken {step} step(s). Below are the most recent {history_length} "
        "observations and the corresponding actions you took: {history}\n"
        "You are now at step {step} and your current observation is: {observation}.\n" + _ADMISSIBLE +
        "Now it's your turn to take one action for the current step.\n" + _THINK
    ),
    "verl_agent_no_history": (
        _ROLE + "\nYour task is to: {instruction}.\nYour current observation is: {observation}.\n" + _ADMISSIBLE +
        "Now it's your turn to take an action.\nYou should first reason step-by-step about the current situation. "
        "This reasoning process MUST be enclosed within <think> </think> tags.\n"
        "Once you've finished your reasoning, you should choose an admissible action for current step and present "
        "it within <action> </action> tags."
    ),
    "chat": (
        _ROLE + "\nYour task is to: {instruction}.\nYour current observation is: {observation}.\n" + _ADMISSIBLE +
        "Now it's your turn to take an action.\n" + _THINK
    ),
    "chat_observation": (
        "Your current observation is: {observation}.\n" + _ADMISSIBLE +
        "Think inside <think> </think>, then give one admissible action inside <action> </action>."
    ),
    "react_system": (
        "You are web shopping. Each turn you see the page and the available actions. Reply in this format:\n"
        "Thought: your reasoning\nAction: search[keywords] or click[value]"
    ),
    "react": "Instruction: {instruction}\nObservation: {observation}\nAvailable actions: [{admissible_actions}]",
    "react_observation": "Observation: {observation}\nAvailable actions: [{admissible_actions}]",
    "tools_system": _ROLE + " Act by calling exactly one tool, `search` or `click`, in every reply.",
    "tools": "Your task is to: {instruction}.\nYour current observation is: {observation}.\n" + _ADMISSIBLE.strip(),
    "tools_observation": "Your current observation is: {observation}.\n" + _ADMISSIBLE.strip(),
}
