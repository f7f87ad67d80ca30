"""Gemini through the official `google-genai` SDK, with our sandbox as its `run_python` tool.

We do not enable Gemini's own server-side `codeExecution`: the model calls our declared
`run_python(code)` function, the loop runs the code in our sandbox, and the result goes back as
a `functionResponse` {outcome, output} (figures as `inlineData` parts next to it).
"""

from __future__ import annotations

import base64
import importlib
import json
import os
import time
from typing import Any

from google import genai
from google.genai import errors as genai_errors
from google.genai import types

from agent.models import run_python
from agent.models.base import GenerateOptions, MissingKeyError, ModelError, ModelTurn, TextSink
from agent.models.fenced import fence_code, fence_output, split_first_code_block
from agent.parts import (
    CodePart,
    FunctionCallPart,
    FunctionResponsePart,
    ImagePart,
    Message,
    ResultPart,
    TextPart,
)
from agent.usage import CallUsage

RUN_PYTHON = run_python.NAME
RUN_PYTHON_DECLARATION: dict[str, Any] = {
    "name": RUN_PYTHON,
    "description": run_python.DESCRIPTION,
    "parameters": run_python.json_schema(upper_case_types=True),
}
# what we send inline; other user files are in the sandbox, named in the system prompt
INLINE_TYPES = ("image/", "application/pdf")
# the SDK sends bytes as URL-safe base64, so this goes on the wire as the documented literal
SKIP_SIGNATURE = base64.urlsafe_b64decode("skip_thought_signature_validator")
RETRY_STATUS = {408, 429, 500, 502, 503, 504}
MAX_ATTEMPTS = 3
# Finish reasons that mean the model was cut off for policy reasons, not that it was done.
BLOCKED_REASONS = {
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "MALFORMED_FUNCTION_CALL",
}


def _http_errors() -> tuple[tuple[type[Exception], ...], tuple[type[Exception], ...]]:
    """(timeout errors, transport errors) of httpx and of its fork httpx2 (google-genai 3.x)."""
    timeouts: list[type[Exception]] = []
    transports: list[type[Exception]] = []
    for module_name in ("httpx", "httpx2"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        timeouts.append(module.TimeoutException)
        transports.append(module.TransportError)
    return tuple(timeouts), tuple(transports)


TIMEOUT_ERRORS, TRANSPORT_ERRORS = _http_errors()


class GeminiModel:
    """`gemini:MODEL`. Reads GEMINI_API_KEY (or GOOGLE_API_KEY)."""

    retry_base_delay_s: float = 1.0  # doubled per retry; tests set it to 0

    def __init__(self, model: str, api_key: str | None = None, base_url: str | None = None) -> None:
        if not model:
            raise ModelError("gemini: a model name is required, e.g. gemini:gemini-2.5-flash")
        key = api_key or os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        if not key:
            raise MissingKeyError("gemini: set GEMINI_API_KEY (or GOOGLE_API_KEY)")
        self.model = model
        self.spec = f"gemini:{model}"
        http_options: types.HttpOptionsDict = {}
        if base_url:
            http_options["base_url"] = base_url
        self._client = genai.Client(api_key=key, http_options=http_options or None)
        # Gemini 2.5+/3 attach thought signatures to function calls and expect them back in the
        # history; our parts have no slot for them, so remember them by call content.
        self._signatures: dict[str, bytes] = {}

    def generate(
        self,
        system: str,
        history: list[Message],
        *,
        code_execution: bool,
        options: GenerateOptions,
        on_text: TextSink | None = None,
    ) -> ModelTurn:
        contents = self.to_contents(history, code_execution)
        if not contents:
            raise ModelError("gemini: nothing to send (empty history)")
        config = self.build_config(system, code_execution, options)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            emitted = [False]  # set once text reached on_text: a retry would repeat it
            try:
                return self._call(contents, config, code_execution, on_text, emitted)
            except genai_errors.APIError as e:
                if e.code not in RETRY_STATUS or attempt == MAX_ATTEMPTS or emitted[0]:
                    raise ModelError(_describe_api_error(e, self.model)) from e
            except TIMEOUT_ERRORS as e:
                if attempt == MAX_ATTEMPTS or emitted[0]:
                    raise ModelError(
                        f"gemini: request timed out after {options.timeout_s:g} s "
                        f"({attempt} attempts)"
                    ) from e
            except TRANSPORT_ERRORS as e:
                if attempt == MAX_ATTEMPTS or emitted[0]:
                    raise ModelError(f"gemini: cannot reach the Gemini API: {e}") from e
            except ModelError:
                raise
            except _SinkError as e:  # the caller's on_text raised (e.g. it stopped listening)
                raise e.error from None
            except Exception as e:  # the SDK failing to parse what came back
                raise ModelError(f"gemini: malformed response: {type(e).__name__}: {e}") from e
            time.sleep(self.retry_base_delay_s * 2 ** (attempt - 1))
        raise AssertionError("unreachable")

    # --- request -----------------------------------------------------------------------------

    def build_config(
        self, system: str, code_execution: bool, options: GenerateOptions
    ) -> types.GenerateContentConfig:
        declarations = [RUN_PYTHON_DECLARATION] if code_execution else []
        declarations += options.function_declarations
        tools = None
        if declarations:
            tools = [types.Tool(function_declarations=[_declaration(d) for d in declarations])]
        return types.GenerateContentConfig(
            system_instruction=system or None,
            temperature=options.temperature,
            max_output_tokens=options.max_output_tokens,
            tools=tools,
            automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True)
            if tools
            else None,
            http_options=types.HttpOptions(timeout=int(options.timeout_s * 1000)),
        )

    def to_contents(self, history: list[Message], code_execution: bool) -> list[types.Content]:
        """Our history as Gemini contents: code -> functionCall, its result -> functionResponse.

        Without code execution, earlier code and results are shown as text instead (no tool
        is declared then, and Gemini rejects calls of undeclared functions).
        """
        contents: list[types.Content] = []

        def add(role: str, part: types.Part) -> None:
            if contents and contents[-1].role == role:
                contents[-1].parts.append(part)  # type: ignore[union-attr]
            else:
                contents.append(types.Content(role=role, parts=[part]))

        for message in history:
            for part in message.parts:
                if isinstance(part, TextPart):
                    if part.text:
                        add(message.role, types.Part(text=part.text))
                elif isinstance(part, ImagePart):
                    if part.mime_type.startswith(INLINE_TYPES):
                        # a figure goes with the result before it; a user's image with the user
                        role = "user" if message.role == "user" or contents else "model"
                        add(role, _inline(part))
                elif message.role == "user":
                    if isinstance(part, FunctionResponsePart):
                        add("user", types.Part(function_response=_function_response(part)))
                elif isinstance(part, CodePart):
                    if code_execution:
                        add("model", self._call_part(RUN_PYTHON, {"code": part.code}, None))
                    else:
                        add("model", types.Part(text=fence_code(part.code)))
                elif isinstance(part, ResultPart):
                    if code_execution:
                        response = {"outcome": part.outcome, "output": part.output}
                        add(
                            "user",
                            types.Part(
                                function_response=types.FunctionResponse(
                                    name=RUN_PYTHON, response=response
                                )
                            ),
                        )
                    else:
                        add("user", types.Part(text=fence_output(part.output)))
                elif isinstance(part, FunctionCallPart):
                    add("model", self._call_part(part.name, part.args, part.id))
        for content in contents:
            calls = [p for p in content.parts or [] if p.function_call is not None]
            if content.role == "model" and calls and not calls[0].thought_signature:
                # Gemini 3 rejects replayed calls without the signature it issued (a history
                # from elsewhere, or another model object); Google documents this stand-in.
                calls[0].thought_signature = SKIP_SIGNATURE
        return contents

    def _call_part(self, name: str, args: dict[str, Any], call_id: str | None) -> types.Part:
        return types.Part(
            function_call=types.FunctionCall(name=name, args=args, id=call_id),
            thought_signature=self._signatures.get(_call_key(name, args)),
        )

    # --- response ----------------------------------------------------------------------------

    def _call(
        self,
        contents: list[types.Content],
        config: types.GenerateContentConfig,
        code_execution: bool,
        on_text: TextSink | None,
        emitted: list[bool],
    ) -> ModelTurn:
        if on_text is None:
            response = self._client.models.generate_content(
                model=self.model, contents=contents, config=config
            )
            chunks = [response]
        else:
            chunks = []
            code_seen = False
            for chunk in self._client.models.generate_content_stream(
                model=self.model, contents=contents, config=config
            ):
                chunks.append(chunk)
                for part in _parts(chunk):
                    if part.function_call is not None:
                        code_seen = True
                    elif part.text and not part.thought and not code_seen:
                        emitted[0] = True
                        try:
                            on_text(part.text)
                        except Exception as e:
                            raise _SinkError(e) from e
        return self.parse(chunks, code_execution)

    def parse(self, chunks: list[types.GenerateContentResponse], code_execution: bool) -> ModelTurn:
        """One turn from a response (or the chunks of a streamed one)."""
        if not any(c.candidates for c in chunks):
            feedback = next((c.prompt_feedback for c in chunks if c.prompt_feedback), None)
            reason = f" (blocked: {feedback.block_reason})" if feedback else ""
            raise ModelError(f"gemini: the response has no candidates{reason}")
        texts: list[str] = []
        code: str | None = None
        calls: list[FunctionCallPart] = []
        finish = None
        usage = CallUsage()
        for chunk in chunks:
            if chunk.usage_metadata is not None:
                usage = _usage(chunk.usage_metadata)
            if chunk.candidates and chunk.candidates[0].finish_reason is not None:
                finish = _enum_name(chunk.candidates[0].finish_reason)
            for part in _parts(chunk):
                call = part.function_call
                if call is not None:
                    args = dict(call.args or {})
                    name = call.name or ""
                    if part.thought_signature:
                        self._signatures[_call_key(name, args)] = part.thought_signature
                    if code_execution and name == RUN_PYTHON:
                        if code is None:
                            if not isinstance(args.get("code"), str):
                                raise ModelError("gemini: run_python was called without code")
                            code = args["code"]
                    else:
                        calls.append(FunctionCallPart(name=name, args=args, id=call.id))
                elif part.text and not part.thought and code is None:
                    texts.append(part.text)
        text = "".join(texts)
        if code is None and code_execution and not calls:
            # a model that writes a fenced block instead of calling the tool
            text, code = split_first_code_block(text)
        if code is not None:
            return ModelTurn(
                text=text, code=code, function_calls=calls, usage=usage, finish_reason="CODE"
            )
        if finish in BLOCKED_REASONS and not text and not calls:
            raise ModelError(f"gemini: the model stopped with finishReason {finish}")
        if finish == "MAX_TOKENS":
            return ModelTurn(
                text=text, function_calls=calls, usage=usage, finish_reason="MAX_TOKENS"
            )
        if not text and not calls:
            raise ModelError(f"gemini: empty response (finishReason {finish})")
        return ModelTurn(text=text, function_calls=calls, usage=usage, finish_reason="STOP")


class _SinkError(Exception):
    def __init__(self, error: Exception) -> None:
        super().__init__(str(error))
        self.error = error


def _declaration(declaration: dict[str, Any]) -> types.FunctionDeclaration:
    try:
        return types.FunctionDeclaration.model_validate(declaration)
    except ValueError as e:  # pydantic's ValidationError
        raise ModelError(f"gemini: bad function declaration {declaration!r}: {e}") from e


def _parts(chunk: types.GenerateContentResponse) -> list[types.Part]:
    if not chunk.candidates or chunk.candidates[0].content is None:
        return []
    return list(chunk.candidates[0].content.parts or [])


def _usage(meta: types.GenerateContentResponseUsageMetadata) -> CallUsage:
    # thinking tokens are billed as output
    output = (meta.candidates_token_count or 0) + (meta.thoughts_token_count or 0)
    return CallUsage(prompt_tokens=meta.prompt_token_count or 0, output_tokens=output)


def _inline(part: ImagePart) -> types.Part:
    return types.Part(
        inline_data=types.Blob(mime_type=part.mime_type, data=base64.b64decode(part.data))
    )


def _function_response(part: FunctionResponsePart) -> types.FunctionResponse:
    return types.FunctionResponse(name=part.name, response=part.response, id=part.id)


def _call_key(name: str, args: dict[str, Any]) -> str:
    return name + json.dumps(args, sort_keys=True, default=str)


def _enum_name(value: Any) -> str:
    return str(getattr(value, "value", value))


def _describe_api_error(e: genai_errors.APIError, model: str) -> str:
    message = e.message or str(e)
    if e.code in (401, 403) or "API key" in message:
        return f"gemini: the API key was rejected ({e.code} {e.status}): {message}; check GEMINI_API_KEY"
    if e.code == 404:
        return f"gemini: unknown model {model!r} ({e.code} {e.status}): {message}"
    return f"gemini: API error {e.code} {e.status or ''}: {message}".replace("  ", " ")
