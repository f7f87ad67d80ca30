"""Half-sent requests (slowloris) neither pile up nor lock real clients out."""

from __future__ import annotations

import select
import socket
import time

import httpx

HELLO = {"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}


def _half_sent(port: int, body: bool) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port))
    head = b"POST /v1beta/models/ok:generateContent HTTP/1.1\r\nHost: x\r\n"
    if body:  # complete headers, a body that never finishes
        head += b'Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"con'
    s.sendall(head)
    return s


def _closed_by_server(s: socket.socket) -> bool:
    if not select.select([s], [], [], 0)[0]:
        return False
    try:
        return s.recv(1 << 16) == b"" or True  # EOF, or the server's last words then EOF
    except ConnectionResetError:
        return True


def test_half_sent_requests_are_closed_and_real_clients_served(start_server, script) -> None:
    server = start_server(
        aliases={"ok": script([{"text": "Final answer: ok"}] * 10)},
        header_timeout_s=1.5,
        body_timeout_s=1.5,
        max_connections=150,
    )
    slow = [_half_sent(server.port, body=i % 4 == 0) for i in range(200)]
    try:
        t0 = time.monotonic()
        url = f"{server.url}/v1beta/models/ok:generateContent"
        response = httpx.post(url, json=HELLO, timeout=10)
        assert response.status_code == 200, response.text
        assert time.monotonic() - t0 < 1.5, "the real client waited for the slow ones"
        time.sleep(0.2)
        shed = sum(_closed_by_server(s) for s in slow)
        assert shed >= 200 - 150, f"only {shed} closed while over the connection limit"

        deadline = time.monotonic() + 6
        while time.monotonic() < deadline:
            still_open = [s for s in slow if not _closed_by_server(s)]
            if not still_open:
                break
            slow = still_open
            time.sleep(0.2)
        assert not still_open, f"{len(still_open)} half-sent connections still open"
        assert httpx.post(url, json=HELLO, timeout=10).status_code == 200
    finally:
        for s in slow:
            s.close()


def test_a_slow_but_steady_request_inside_the_deadlines_is_served(start_server, script) -> None:
    server = start_server(
        aliases={"ok": script([{"text": "Final answer: ok"}])}, header_timeout_s=3.0
    )
    s = socket.create_connection(("127.0.0.1", server.port))
    body = b'{"contents": [{"role": "user", "parts": [{"text": "hi"}]}]}'
    request = (
        b"POST /v1beta/models/ok:generateContent HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    ) + body
    for i in range(0, len(request), 40):
        s.sendall(request[i : i + 40])
        time.sleep(0.05)
    s.settimeout(10)
    assert s.recv(1 << 16).startswith(b"HTTP/1.1 200")
    s.close()
