"""Token accounting the way Gemini bills code execution.

Gemini runs the generate -> execute loop itself and bills:
- `promptTokenCount`: the caller's prompt, once;
- `toolUsePromptTokenCount`: the intermediate input, i.e. the generated code and its results fed
  back to the model on each later step (the original prompt is not billed again);
- `candidatesTokenCount`: everything the model generated, over all steps.
We get per-call numbers from a backend, so step k>1 contributes `prompt_k - prompt_1` tool-use
tokens: what that call read beyond the original prompt.
"""

from __future__ import annotations

from pydantic import BaseModel


class CallUsage(BaseModel):
    """What one model call read and wrote, in the model's own tokens."""

    prompt_tokens: int = 0
    output_tokens: int = 0


class Usage(BaseModel):
    prompt_token_count: int = 0
    candidates_token_count: int = 0
    tool_use_prompt_token_count: int = 0

    @property
    def total_token_count(self) -> int:
        return (
            self.prompt_token_count + self.candidates_token_count + self.tool_use_prompt_token_count
        )

    @classmethod
    def from_calls(cls, calls: list[CallUsage]) -> Usage:
        if not calls:
            return cls()
        first = calls[0].prompt_tokens
        return cls(
            prompt_token_count=first,
            candidates_token_count=sum(c.output_tokens for c in calls),
            tool_use_prompt_token_count=sum(max(0, c.prompt_tokens - first) for c in calls[1:]),
        )

    @classmethod
    def of_samples(cls, usages: list[Usage]) -> Usage:
        """K solves of one prompt: the prompt once, everything generated and read after it."""
        return cls(
            prompt_token_count=max((u.prompt_token_count for u in usages), default=0),
            candidates_token_count=sum(u.candidates_token_count for u in usages),
            tool_use_prompt_token_count=sum(u.tool_use_prompt_token_count for u in usages),
        )

    def to_gemini(self) -> dict[str, int]:
        return {
            "promptTokenCount": self.prompt_token_count,
            "candidatesTokenCount": self.candidates_token_count,
            "toolUsePromptTokenCount": self.tool_use_prompt_token_count,
            "totalTokenCount": self.total_token_count,
        }

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            prompt_token_count=self.prompt_token_count + other.prompt_token_count,
            candidates_token_count=self.candidates_token_count + other.candidates_token_count,
            tool_use_prompt_token_count=self.tool_use_prompt_token_count
            + other.tool_use_prompt_token_count,
        )
