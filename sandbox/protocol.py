"""Framed messages over a stream socket (host <-> session interpreter).

A frame is a 5-byte header (payload length, kind) and the payload: kind 0 is a JSON object,
kind 1 a figure's raw PNG bytes. A run's reply is its figure frames, then one JSON frame.
The host caps every frame by kind, so a reply forged by user code cannot grow its memory.
"""

from __future__ import annotations

import socket
import struct
from json import dumps as _dumps
from json import loads as _loads
from typing import Any

# Bound at import: user code patching json.* in its session must not break the runner's replies.

_HEADER = struct.Struct("!IB")
JSON, FIGURE = 0, 1
MAX_MESSAGE = 64 * 1024 * 1024  # what the session accepts from the host (code)


def _frame(kind: int, payload: bytes) -> bytes:
    return _HEADER.pack(len(payload), kind) + payload


def send_msg(sock: socket.socket, obj: Any) -> None:
    sock.sendall(_frame(JSON, _dumps(obj, separators=(",", ":")).encode()))


def send_figure(sock: socket.socket, png: bytes) -> None:
    sock.sendall(_frame(FIGURE, png))


def _recv_exact(sock: socket.socket, n: int) -> bytes | None:
    chunks: list[bytes] = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv_msg(sock: socket.socket) -> Any | None:
    """The next JSON message (the session's side), or None at end of stream."""
    header = _recv_exact(sock, _HEADER.size)
    if header is None:
        return None
    size, kind = _HEADER.unpack(header)
    if kind != JSON or size > MAX_MESSAGE:
        raise ValueError(f"bad frame (kind {kind}, {size} bytes)")
    data = _recv_exact(sock, size)
    return None if data is None else _loads(data)


class FrameReader:
    """Incremental decoder for the host's non-blocking select loop, with a cap per kind."""

    def __init__(self, max_json: int, max_figure: int) -> None:
        self._buf = bytearray()
        self._caps = {JSON: max_json, FIGURE: max_figure}

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        """Complete frames so far; ValueError for a frame over its cap or of unknown kind."""
        self._buf += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buf) >= _HEADER.size:
            size, kind = _HEADER.unpack_from(self._buf)
            if kind not in self._caps or size > self._caps[kind]:
                raise ValueError(f"frame of kind {kind} with {size} bytes is over its limit")
            end = _HEADER.size + size
            if len(self._buf) < end:
                break
            frames.append((kind, bytes(self._buf[_HEADER.size : end])))
            del self._buf[:end]
        return frames
