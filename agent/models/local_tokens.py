"""Token counts with the local model's own tokenizer, over the prompt exactly as `LocalModel`
renders it for the first call of a solve (system prompt, worked examples, files note, history).

Kept apart from local.py: it only reads what that module renders and loads.
"""

from __future__ import annotations

from agent.models import local
from agent.parts import Message
from agent.prompts import split_files_note, worked_examples


def render_first_prompt(
    system: str, history: list[Message], *, code_execution: bool, few_shot: bool = True
) -> str:
    """The ChatML prompt `LocalModel.generate` builds for this system prompt and history."""
    shots = worked_examples(code_execution, history) if few_shot else []
    system, files_note = split_files_note(system)
    return local.render_chatml(system, shots + local._with_note(history, files_note))


def count_prompt_tokens(
    size: str, system: str, history: list[Message], *, code_execution: bool
) -> int:
    """Tokens of the first prompt for `local:SIZE` (loads the model once, like a solve would)."""
    prompt = render_first_prompt(system, history, code_execution=code_execution)
    llm = local._load(size).llm
    return len(llm.tokenize(prompt.encode(), add_bos=False, special=True))
