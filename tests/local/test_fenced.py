"""The fenced-code helpers shared by the local and OpenAI-compatible backends."""

from __future__ import annotations

from agent.models.fenced import (
    ProseStreamer,
    find_code_block,
    render_history,
    split_first_code_block,
)
from agent.parts import CodePart, ImagePart, Message, ResultPart, TextPart


def test_split_prose_and_code() -> None:
    text = "Let me count.\n```python\nprint('strawberry'.count('r'))\n```\n"
    assert split_first_code_block(text) == ("Let me count.\n", "print('strawberry'.count('r'))")


def test_language_spellings() -> None:
    for lang in ("python", "py", "Python", "PYTHON3", "python "):
        prose, code = split_first_code_block(f"x\n```{lang}\nprint(1)\n```")
        assert code == "print(1)", lang
        assert prose == "x\n"


def test_only_first_block_and_not_other_languages() -> None:
    text = "```bash\nls\n```\nthen\n```python\na = 1\n```\nand\n```python\nb = 2\n```"
    prose, code = split_first_code_block(text)
    assert code == "a = 1"
    assert prose == "```bash\nls\n```\nthen\n"


def test_unclosed_block_is_not_code() -> None:
    text = "```python\nfor i in range(10):\n    print(i"
    assert split_first_code_block(text) == (text, None)
    # ... unless the server stopped on the closing fence (which it strips)
    assert (
        split_first_code_block(text, stopped_at_fence=True)[1] == "for i in range(10):\n    print(i"
    )


def test_no_code_and_empty_code() -> None:
    assert split_first_code_block("Final answer: 3") == ("Final answer: 3", None)
    assert split_first_code_block("```python\n\n```")[1] is None


def test_indented_block_is_dedented() -> None:
    text = "1. Compute:\n   ```python\n   x = 2\n   print(x)\n   ```\n"
    assert split_first_code_block(text)[1] == "x = 2\nprint(x)"


def test_streaming_needs_the_line_after_the_fence() -> None:
    partial = "```python\nprint(1)\n```"
    assert not find_code_block(partial, at_end=False).closed
    assert find_code_block(partial + "\n", at_end=False).closed
    assert find_code_block(partial, at_end=True).closed


def test_backticks_inside_code_do_not_close() -> None:
    text = '```python\ns = "```"\nprint(s)\n```\n'
    assert split_first_code_block(text)[1] == 's = "```"\nprint(s)'


def test_render_history_roles_and_output_blocks() -> None:
    history = [
        Message.user("How many r in strawberry?"),
        Message(
            role="model",
            parts=[
                TextPart(text="Counting.\n"),
                CodePart(code="print('strawberry'.count('r'))"),
                ResultPart(outcome="OUTCOME_OK", output="3\n"),
                ImagePart(data="AAAA"),
                CodePart(code="print(2)"),
                ResultPart(outcome="OUTCOME_FAILED", output="Traceback: boom"),
            ],
        ),
    ]
    assert render_history(history) == [
        {"role": "user", "content": "How many r in strawberry?"},
        {
            "role": "assistant",
            "content": "Counting.\n```python\nprint('strawberry'.count('r'))\n```",
        },
        {"role": "user", "content": "```output\n3\n```"},
        {"role": "assistant", "content": "```python\nprint(2)\n```"},
        {"role": "user", "content": "```output\nTraceback: boom\n```"},
    ]


def test_render_history_separates_prose_without_newline() -> None:
    history = [Message(role="model", parts=[TextPart(text="Sure."), CodePart(code="1")])]
    assert render_history(history)[0]["content"] == "Sure.\n\n```python\n1\n```"


def test_prose_streamer_hides_the_fence() -> None:
    streamer = ProseStreamer()
    deltas = ["Let", " me `count`", " it.\n`", "``py", "thon\nprint(1)\n```", "\nmore"]
    shown = "".join(streamer.feed(d) for d in deltas) + streamer.flush()
    assert shown == "Let me `count` it.\n"


def test_prose_streamer_without_code_shows_everything() -> None:
    streamer = ProseStreamer()
    shown = "".join(streamer.feed(d) for d in ["Final answer: `3", "`"]) + streamer.flush()
    assert shown == "Final answer: `3`"
