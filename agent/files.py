"""User files for a solve: loaded, checked and named before they go into the sandbox."""

from __future__ import annotations

import base64
import binascii
import mimetypes
from pathlib import Path

from pydantic import BaseModel

from agent.parts import ImagePart, Message

MAX_INPUT_FILE_BYTES = 50 * 1024 * 1024

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
                data = base64.b64decode(part.data, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"attached file {part.name or '(inline)'} is not base64") from exc
            name = part.name or f"file_{len(found) + 1}{extension_for(part.mime_type)}"
            _check_size(name, len(data))
            found.append(InputFile(name=check_name(name), data=data))
    return found


def extension_for(mime_type: str) -> str:
    return _EXTENSIONS.get(mime_type) or mimetypes.guess_extension(mime_type) or ".bin"


def mime_type_for(name: str) -> str:
    return mimetypes.guess_type(name)[0] or "application/octet-stream"
