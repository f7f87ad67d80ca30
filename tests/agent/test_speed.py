"""The speed a solve reports (`solve --json`'s `speed`), summed over its model calls."""

from __future__ import annotations

from agent.result import SolveResult
from agent.usage import CallUsage, Speed


def test_speed_sums_the_calls_and_counts_only_tokens_read() -> None:
    calls = [
        CallUsage(
            prompt_tokens=3000, output_tokens=40, reused_tokens=2900, prompt_s=0.5, generate_s=2.0
        ),
        CallUsage(
            prompt_tokens=3100, output_tokens=10, reused_tokens=3040, prompt_s=0.3, generate_s=0.5
        ),
    ]
    speed = Speed.from_calls(calls)
    assert speed is not None
    assert speed.to_json() == {
        "promptTokensPerSecond": 200.0,  # (100 + 60) tokens read in 0.8 s
        "outputTokensPerSecond": 20.0,  # 50 tokens in 2.5 s
        "reusedPromptTokens": 5940,
        "readPromptTokens": 160,
        "promptSeconds": 0.8,
        "generateSeconds": 2.5,
    }


def test_untimed_calls_report_no_speed() -> None:
    assert Speed.from_calls([CallUsage(prompt_tokens=10, output_tokens=5)]) is None
    assert "speed" not in SolveResult().to_gemini()
    timed = SolveResult(speed=Speed(output_tokens=8, generate_s=0.5))
    assert timed.to_gemini()["speed"]["outputTokensPerSecond"] == 16.0
