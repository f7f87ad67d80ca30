"""User files for a solve: loaded, checked and named before they go into the sandbox."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agent.parts import ImagePart, Message, TextPart
from agent.result import OutputFile

MAX_INPUT_FILE_BYTES = 50 * 1024 * 1024
MAX_OUTPUT_FILE_BYTES = 10 * 1024 * 1024
MAX_OUTPUT_FILES_BYTES = 32 * 1024 * 1024
MAX_INLINED_TEXT_FILE_CHARS = 20_000

_EXTENSIONS = {
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "text/csv": ".csv",
    "text/plain": ".txt",
    "application/json": ".json",
    "application/pdf": ".pdf",
}


class InputFile(BaseModel):
    """A file given to the model: placed in the sandbox's working directory under `name`."""

    name: str
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


def check_name(name: str) -> str:
    """A plain file name (no directories), or ValueError."""
    clean = name.strip()
    if not clean or clean in (".", "..") or "/" in clean or "\\" in clean or "\0" in clean:
        raise ValueError(f"bad file name {name!r}: use a plain name such as data.csv")
    return clean


def _check_size(name: str, size: int) -> None:
    if size > MAX_INPUT_FILE_BYTES:
        raise ValueError(
            f"file {name} is {size / 1e6:.1f} MB; the limit is {MAX_INPUT_FILE_BYTES // 2**20} MB"
        )


def load_input_file(item: str | Path | InputFile) -> InputFile:
    """Read a path (or check an InputFile); FileNotFoundError / ValueError with a clear message."""
    if isinstance(item, InputFile):
        _check_size(item.name, item.size)
        return InputFile(name=check_name(item.name), data=item.data)
    path = Path(item).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"file not found: {path}")
    if not path.is_file():
        raise ValueError(f"not a regular file: {path}")
    _check_size(path.name, path.stat().st_size)
    return InputFile(name=check_name(path.name), data=path.read_bytes())


def files_from_messages(messages: list[Message]) -> list[InputFile]:
    """Files attached to user messages as ImagePart (named, or inline data without a name)."""
    found: list[InputFile] = []
    for message in messages:
        if message.role != "user":
            continue
        for part in message.parts:
            if not isinstance(part, ImagePart):
                continue
            try:
                data = decode_base64(part.data)
            except ValueError as exc:
                raise ValueError(f"attached file {part.name or '(inline)'} is not base64") from exc
            name = part.name or f"file_{len(found) + 1}{extension_for(part.mime_type)}"
            _check_size(name, len(data))
            found.append(InputFile(name=check_name(name), data=data))
    return found


_URLSAFE = str.maketrans("-_", "+/")


def decode_base64(data: str) -> bytes:
    """Base64 as Gemini accepts it: the standard or the URL-safe alphabet, padded or not;
    ValueError for anything else (the wire decoder and the file loader share this)."""
    if not isinstance(data, str) or not data.isascii():
        raise ValueError("not base64")
    text = data.translate(_URLSAFE)
    if len(text) % 4 == 1:
        raise ValueError("not base64 (bad length)")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64") from exc


def extension_for(mime_type: str) -> str:
    return _EXTENSIONS.get(mime_type) or mimetypes.guess_extension(mime_type) or ".bin"


def mime_type_for(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"


def unique(files: list[InputFile]) -> list[InputFile]:
    """One file per name; a later one wins."""
    return list({f.name: f for f in files}.values())


def inline_text_files(history: list[Message], inputs: list[InputFile]) -> list[Message]:
    """Without code execution the model cannot open files: small text files go into the last
    user message (a copy; the caller's messages are not changed)."""
    shown = []
    for f in inputs:
        try:
            text = f.data.decode("utf-8")
        except UnicodeDecodeError:
            continue
        if len(text) <= MAX_INLINED_TEXT_FILE_CHARS:
            shown.append(f"File {f.name}:\n```\n{text}\n```")
    if not shown:
        return history
    extra = TextPart(text="\n\n".join(shown))
    users = [i for i, m in enumerate(history) if m.role == "user"]
    if not users:
        return [*history, Message(role="user", parts=[extra])]
    i = users[-1]
    return [*history[:i], Message(role="user", parts=[*history[i].parts, extra]), *history[i + 1 :]]


def read_output_files(sandbox: Any, names: list[str]) -> list[OutputFile]:
    """The files the code created or changed, as they are now, within the size caps."""
    out: list[OutputFile] = []
    total = 0
    try:
        current = {f.name: f for f in sandbox.list_files()}
    except Exception:  # a broken sandbox must not cost the answer
        return out
    for name in names:
        info = current.get(name)
        if info is None or info.size > MAX_OUTPUT_FILE_BYTES:
            continue
        if total + info.size > MAX_OUTPUT_FILES_BYTES:
            break
        try:
            data = sandbox.read_file(name)
        except Exception:  # vanished, or not a regular file: nothing to return
            continue
        total += len(data)
        out.append(
            OutputFile(
                name=name,
                mime_type=getattr(info, "mime_type", None) or mime_type_for(name),
                data_b64=base64.b64encode(data).decode(),
                size=len(data),
            )
        )
    return out
