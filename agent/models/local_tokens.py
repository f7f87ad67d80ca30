"""Token counts with the local model's own tokenizer, over the prompt exactly as `LocalModel`
renders it for the first call of a solve (the strategy's system prompt, worked examples, files
note and history).

Kept apart from local.py: it only reads what that module renders and loads.
"""

from __future__ import annotations

from agent.models import local
from agent.strategies import Prompt


def render_first_prompt(prompt: Prompt) -> str:
    """The ChatML prompt `LocalModel.generate` builds for this prompt (the text protocol's)."""
    return local.render_chatml(prompt.system, prompt.history)


def count_prompt_tokens(size: str, prompt: Prompt) -> int:
    """Tokens of the first prompt for `local:SIZE` (a size or a GGUF path; loads the model once,
    like a solve would)."""
    return local.LocalModel(size).prompt_tokens(prompt.system, prompt.history)
