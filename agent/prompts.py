"""System prompts. Placeholder until tuned on the local model (owned by the local-model work)."""

from __future__ import annotations

CODE_EXECUTION_PROMPT = """You are a careful assistant that can run Python code.
To compute anything (arithmetic, counting, solving equations, data processing), write one
```python
...
```
block and stop; it will be run and you will be shown its output. Print the values you need.
Never guess a result you can compute. When you know the answer, write:
Final answer: <the answer alone>
"""

NO_CODE_PROMPT = """You are a careful assistant. Think step by step, then write:
Final answer: <the answer alone>
"""


def system_prompt(code_execution: bool, files: list[str] | None = None, extra: str = "") -> str:
    prompt = CODE_EXECUTION_PROMPT if code_execution else NO_CODE_PROMPT
    if files:
        prompt += "\nFiles in the working directory: " + ", ".join(files) + "\n"
    if extra:
        prompt = extra.strip() + "\n\n" + prompt
    return prompt
