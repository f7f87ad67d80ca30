"""A GGUF file of the user's own (`local:/path/to/model.gguf`): checked before it is loaded, and
its conversation rendered with the chat template stored in the file's metadata."""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from typing import Any

from agent.models.base import BadModelSpecError

log = logging.getLogger("codexec.local")

GGUF_MAGIC = b"GGUF"


def is_path_spec(arg: str) -> bool:
    """Whether `local:ARG` names a file rather than one of the embedded sizes."""
    return "/" in arg or arg.lower().endswith(".gguf") or arg.startswith("~")


def checked_gguf(arg: str) -> Path:
    """The file `arg` names, if it is a GGUF file; a clear error otherwise."""
    path = Path(arg).expanduser().resolve()
    if not path.is_file():
        raise BadModelSpecError(f"local:{arg}: no such file")
    with path.open("rb") as fh:
        magic = fh.read(4)
    if magic != GGUF_MAGIC:
        raise BadModelSpecError(
            f"local:{arg}: not a GGUF model file (it starts with {magic!r}, not b'GGUF'); "
            "convert the model with llama.cpp's convert_hf_to_gguf.py"
        )
    return path


def file_identity(path: Path) -> str:
    """What the prompt-prefix cache is keyed by for this file: its path, size and modification
    time (hashing gigabytes on every start would cost more than the cache saves)."""
    stat = path.stat()
    return hashlib.sha256(f"{path}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()


class ChatTemplate:
    """Renders role/content messages with the file's own template (`tokenizer.chat_template`),
    or as ChatML when the file has none."""

    def __init__(self, llm: Any) -> None:
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        template = llm.metadata.get("tokenizer.chat_template")
        self.formatter: Any = None
        if not template:
            log.warning("%s has no chat template: using ChatML", llm.model_path)
            return
        model = llm._model
        eos, bos = llm.token_eos(), llm.token_bos()
        eos_text = model.token_get_text(eos) if eos != -1 else ""
        bos_text = model.token_get_text(bos) if bos != -1 else ""
        self.formatter = {  # one per ending: rendering must not change shared state
            open_turn: Jinja2ChatFormatter(
                template=template,
                eos_token=eos_text,
                bos_token=bos_text,
                add_generation_prompt=open_turn,
            )
            for open_turn in (True, False)
        }

    def render(self, messages: list[dict[str, str]], open_turn: bool) -> str:
        """The prompt; `open_turn`: ending with the start of the assistant's answer."""
        if self.formatter is None:
            from agent.models.local import chatml

            return chatml(messages, open_turn)
        prompt: str = self.formatter[open_turn](messages=messages).prompt
        return prompt
