"""Prompt templates for WebShop (`str.format` with {instruction}, {step}, {history_length}, {history},
{observation}, {admissible_actions}); the harness builds chat prompts from them."""

from __future__ import annotations

_ROLE = "You are an expert autonomous agent operating in the WebShop e-commerce platform."

PROMPTS: dict[str, str] = {
    "verl_agent": (
        _ROLE + "\nYour task is to: {instruction}.\n"
        "Prior to this step, you have already taken {step} step(s). Below are the most recent {history_length} "
        "observations and the corresponding actions you took: {history}\n"
        "You are now at step {step} and your current observation is: {observation}.\n"
        "Your admissible actions of the current situation are: [{admissible_actions}].\n\n"
        "Now it's your turn to take one action for the current step.\n"
        "You should first reason step-by-step about the current situation, then think carefully which admissible "
        "action best advances the shopping goal. This reasoning process MUST be enclosed within <think> </think> "
        "tags.\nOnce you've finished your reasoning, you should choose an admissible action for current step and "
        "present it within <action> </action> tags."
    ),
    "verl_agent_no_history": (
        _ROLE + "\nYour task is to: {instruction}.\n"
        "Your current observation is: {observation}.\n"
        "Your admissible actions of the current situation are: [{admissible_actions}].\n\n"
        "Now it's your turn to take an action.\nYou should first reason step-by-step about the current situation. "
        "This reasoning process MUST be enclosed within <think> </think> tags.\n"
        "Once you've finished your reasoning, you should choose an admissible action for current step and present "
        "it within <action> </action> tags."
    ),
    "react": (
        "Webshop. Instruction: {instruction}\n"
        "Actions: search[keywords] on the search page, click[button] on buttons, product ids and options shown.\n"
        "Recent history ({history_length} steps):\n{history}\n"
        "Step {step}. Observation: {observation}\n"
        "Available actions: {admissible_actions}\n"
        "Think briefly, then answer with one action as <action>search[...]</action> or <action>click[...]</action>."
    ),
}
