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
    # how fast (backends that know it: the local model)
    reused_tokens: int = 0  # prompt tokens whose state was cached, not read again
    prompt_s: float = 0.0  # reading the rest of the prompt, to the first token
    generate_s: float = 0.0  # from the first token to the last


class Speed(BaseModel):
    """How fast a solve's model calls were, summed over the calls (`solve --json`'s `speed`)."""

    read_tokens: int = 0
    reused_tokens: int = 0
    prompt_s: float = 0.0
    output_tokens: int = 0
    generate_s: float = 0.0

    @classmethod
    def from_calls(cls, calls: list[CallUsage]) -> Speed | None:
        """None when no call was timed (the backend does not report it)."""
        if not any(c.prompt_s or c.generate_s for c in calls):
            return None
        return cls(
            read_tokens=sum(max(0, c.prompt_tokens - c.reused_tokens) for c in calls),
            reused_tokens=sum(c.reused_tokens for c in calls),
            prompt_s=sum(c.prompt_s for c in calls),
            output_tokens=sum(c.output_tokens for c in calls),
            generate_s=sum(c.generate_s for c in calls),
        )

    def to_json(self) -> dict[str, float | int]:
        def rate(tokens: int, seconds: float) -> float:
            return round(tokens / seconds, 1) if seconds > 0 else 0.0

        return {
            "promptTokensPerSecond": rate(self.read_tokens, self.prompt_s),
            "outputTokensPerSecond": rate(self.output_tokens, self.generate_s),
            "reusedPromptTokens": self.reused_tokens,
            "readPromptTokens": self.read_tokens,
            "promptSeconds": round(self.prompt_s, 3),
            "generateSeconds": round(self.generate_s, 3),
        }


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
