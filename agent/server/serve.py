"""`python -m agent serve`: the Gemini-compatible server under uvicorn, with its connection
limits, TLS, key-redacted access log and a clean exit on SIGTERM."""

from __future__ import annotations

import logging
import os
import re
import signal
from typing import Any

from agent.server.config import ServerConfig, operator_credentials, parse_args
from agent.server.connections import protocol_class
from agent.server.http import create_app

log = logging.getLogger("agent.server")


class _RedactKey(logging.Filter):
    """Keep `?key=...` API keys out of the access log."""

    _pattern = re.compile(r"([?&]key=)[^&\s]*")

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._pattern.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def uvicorn_options(config: ServerConfig) -> dict[str, Any]:
    """Connection limits and timeouts for uvicorn (see connections.py)."""
    protocol = protocol_class(
        config.header_timeout_s, config.body_timeout_s, config.max_connections
    )
    options: dict[str, Any] = {"http": protocol, "timeout_keep_alive": 5}
    options["h11_max_incomplete_event_size"] = 64 * 1024
    if config.ssl_certfile:  # https, and the wss:// the SDK's Live API connects with
        options.update(ssl_certfile=str(config.ssl_certfile), ssl_keyfile=str(config.ssl_keyfile))
    return options


def _exit_on_sigterm(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def main(argv: list[str] | None = None) -> int:
    import uvicorn

    config = parse_args(argv)
    if config.batching:  # before the local model loads: its context is made for it
        os.environ.setdefault("CODEXEC_BATCHING", "1")
    # uvicorn shuts down gracefully on SIGTERM, then re-raises it: with the default handler
    # that kills the process before atexit removes the zygote's workspaces and cgroups.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger("uvicorn.access").addFilter(_RedactKey())
    aliases = ", ".join(f"{n} -> {s}" for n, s in config.all_aliases().items())
    log.info(
        "codexec Gemini API on %s://%s:%d (models: %s; key %s; %d at once, queue %d)",
        "https" if config.ssl_certfile else "http", config.host, config.port, aliases, "required" if config.api_key else "not required",
        config.max_concurrency, config.queue_size,
    )  # fmt: skip
    credentials = operator_credentials()
    if config.aliases_only:
        log.info("only the aliases are served (raw model SPECs in URLs are refused)")
    elif credentials:
        log.warning(
            "--allow-raw-specs with %s set: any client may name openai:/gemini:/anthropic: "
            "models and spend them",
            ", ".join(credentials),
        )
    uvicorn.run(
        create_app(config),
        host=config.host,
        port=config.port,
        log_level="info",
        timeout_graceful_shutdown=10,
        **uvicorn_options(config),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
