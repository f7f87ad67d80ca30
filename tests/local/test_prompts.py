"""The prompts: worked examples tell the truth, and the format matches what the loop produces."""

from __future__ import annotations

import subprocess
import sys

import pytest

from agent.models.fenced import render_history
from agent.prompts import EXAMPLES, few_shot_messages, system_prompt


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.question[:30])
def test_example_output_is_what_the_code_prints(example) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", example.code], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == example.output


def test_few_shot_renders_as_chat_turns() -> None:
    messages = render_history(few_shot_messages())
    assert [m["role"] for m in messages[:4]] == ["user", "assistant", "user", "assistant"]
    assert messages[1]["content"].startswith("```python\n")
    assert messages[2]["content"] == f"```output\n{EXAMPLES[0].output}\n```"
    assert messages[3]["content"] == f"Final answer: {EXAMPLES[0].answer}"


def test_system_prompt_variants() -> None:
    with_code = system_prompt(True, ["sales.csv"], extra="Be brief.")
    assert with_code.startswith("Be brief.")
    assert "```python" in with_code and "sales.csv" in with_code
    without = system_prompt(False)
    assert "```python" not in without and "Final answer:" in without
