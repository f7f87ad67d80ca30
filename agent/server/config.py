"""Server settings, command-line parsing, and mapping a URL's `{model}` to a model SPEC.

Model names in URLs (`/v1beta/models/{model}:generateContent`) resolve as follows:
1. an alias: `local` -> `local` and `default` -> the server's `--model` are always defined;
   `--alias NAME=SPEC` adds more, e.g. `--alias gemini-2.0-flash=local` so unchanged Gemini code
   runs on the local model; `--alias '*=SPEC'` catches every name that is not otherwise known;
2. else a model SPEC itself (`local:0.5b`, `openai:gpt-4o-mini`, ...), unless the server runs
   aliases-only; `scripted:PATH` (which reads a file by path) only with `--allow-scripted` or
   through an alias. Aliases-only is the default when the server holds operator credentials
   (OPENAI_API_KEY, OPENAI_BASE_URL, GEMINI_API_KEY, GOOGLE_API_KEY, ANTHROPIC_API_KEY), so a
   client cannot name `openai:ANY` and spend them; `--allow-raw-specs` opts out, `--aliases-only`
   forces it on;
3. else 404 NOT_FOUND.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from agent.models import OPERATOR_CREDENTIALS, SPEC_PREFIXES


def operator_credentials() -> list[str]:
    """The OPERATOR_CREDENTIALS set (non-empty) in this process's environment."""
    return [name for name in OPERATOR_CREDENTIALS if os.environ.get(name, "").strip()]


DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024  # Gemini's inline request limit
DEFAULT_MAX_FILE_BYTES = 50 * 2**20  # what the sandbox takes (agent.files.MAX_INPUT_FILE_BYTES)
DEFAULT_MAX_FILES_BYTES = 20 * 2**30  # Gemini's Files API storage per project
DEFAULT_FILE_TTL_S = 48 * 3600.0  # Gemini keeps uploaded files 48 hours
DEFAULT_ENV_IDLE_S = 600.0  # an environment's session is suspended after this long unused
DEFAULT_ENV_TTL_S = 24 * 3600.0  # and the environment deleted after this long unused
DEFAULT_MAX_ENVIRONMENTS = 10  # per API key


def is_spec(name: str) -> bool:
    return name == "local" or (name.startswith(SPEC_PREFIXES) and ":" in name and name[-1] != ":")


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    port: int = 8000
    model: str = "local"  # what the alias `default` maps to
    api_key: str | None = None
    max_concurrency: int = 4
    batching: bool = True  # the local model decodes concurrent requests together (serve's main)
    queue_size: int = 64
    aliases: dict[str, str] = field(default_factory=dict)
    # None: aliases-only exactly when operator credentials are set (see operator_credentials)
    aliases_only: bool | None = None
    allow_scripted: bool = False  # raw `scripted:PATH` in URLs would let clients name host files
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    max_steps: int = 10
    time_budget_s: float = 300.0
    data_dir: Path | None = None  # None: $CODEXEC_DATA_DIR or ~/.local/share/codexec
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    max_files_bytes: int = DEFAULT_MAX_FILES_BYTES  # per API key (all files, if no keys)
    file_ttl_s: float = DEFAULT_FILE_TTL_S
    header_timeout_s: float = 10.0  # a request's headers must arrive within this
    body_timeout_s: float = 60.0  # and its body within this after the headers
    max_connections: int = 512  # open connections (the slowest are shed first)
    environment_idle_s: float = DEFAULT_ENV_IDLE_S
    environment_ttl_s: float = DEFAULT_ENV_TTL_S
    max_environments: int = DEFAULT_MAX_ENVIRONMENTS  # per API key (all, if no keys)
    ssl_certfile: Path | None = None  # TLS (https/wss; the SDK's Live API needs wss)
    ssl_keyfile: Path | None = None

    def __post_init__(self) -> None:
        if self.aliases_only is None:
            self.aliases_only = bool(operator_credentials())

    def all_aliases(self) -> dict[str, str]:
        return {"default": self.model, "local": "local", **self.aliases}

    def resolve(self, name: str) -> str | None:
        """The model SPEC for a URL's model name, or None if it is unknown."""
        name = name.removeprefix("models/")
        aliases = self.all_aliases()
        if name in aliases:
            return aliases[name]
        scripted_refused = name.startswith("scripted:") and not self.allow_scripted
        if not self.aliases_only and is_spec(name) and not scripted_refused:
            return name
        return aliases.get("*")


def _alias(text: str) -> tuple[str, str]:
    name, sep, spec = text.partition("=")
    if not sep or not name.strip() or not spec.strip():
        raise argparse.ArgumentTypeError(f"expected NAME=SPEC, got {text!r}")
    return name.strip().removeprefix("models/"), spec.strip()


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be >= 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    from agent.cli import program_name

    p = argparse.ArgumentParser(
        prog=program_name("serve"),
        description="Serve Gemini's REST API (generateContent, streamGenerateContent) "
        "with code execution on any model.",
        epilog=__doc__.split("\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument(
        "--model", default="local", metavar="SPEC", help="what the alias 'default' maps to (local)"
    )
    p.add_argument(
        "--api-key",
        default=os.environ.get("CODEXEC_API_KEY"),
        metavar="KEY",
        help="require this key (x-goog-api-key header or ?key=); default: $CODEXEC_API_KEY",
    )
    p.add_argument(
        "--max-concurrency", type=_positive, default=4, metavar="N", help="runs at once (4)"
    )
    p.add_argument(
        "--queue-size", type=int, default=64, metavar="N", help="requests waiting before 429 (64)"
    )
    p.add_argument(
        "--alias", type=_alias, action="append", default=[], metavar="NAME=SPEC",
        help="map a model name to a SPEC (repeatable; NAME '*' catches all unknown names)",
    )  # fmt: skip
    only = p.add_mutually_exclusive_group()
    only.add_argument(
        "--aliases-only", dest="aliases_only", action="store_const", const=True, default=None,
        help="refuse raw SPECs in URLs (only aliases); the default when operator credentials "
        f"({', '.join(OPERATOR_CREDENTIALS)}) are set",
    )  # fmt: skip
    only.add_argument(
        "--allow-raw-specs", dest="aliases_only", action="store_const", const=False,
        help="accept raw SPECs in URLs (openai:ANY, ...) even with operator credentials set: "
        "any client can then spend them",
    )  # fmt: skip
    p.add_argument(
        "--allow-scripted",
        action="store_true",
        help="accept raw scripted:PATH specs in URLs (tests and demos; reads files by path)",
    )
    p.add_argument(
        "--max-body-mb", type=float, default=DEFAULT_MAX_BODY_BYTES / 2**20, metavar="MB",
        help="larger requests get 413 (20)",
    )  # fmt: skip
    p.add_argument(
        "--max-steps", type=_positive, default=10, metavar="N", help="model calls per request (10)"
    )
    p.add_argument(
        "--no-batching", dest="batching", action="store_false",
        help="decode concurrent requests on the local model one at a time (by default they are "
        "decoded together, continuous batching)",
    )  # fmt: skip
    p.add_argument(
        "--time-budget", type=float, default=300.0, metavar="S", help="seconds per request (300)"
    )
    p.add_argument(
        "--data-dir", type=Path, default=None, metavar="DIR",
        help="uploaded files and their metadata (SQLite) live here "
        "(default: $CODEXEC_DATA_DIR or ~/.local/share/codexec)",
    )  # fmt: skip
    p.add_argument(
        "--max-file-mb", type=float, default=DEFAULT_MAX_FILE_BYTES / 2**20, metavar="MB",
        help="largest file files.upload accepts (50)",
    )  # fmt: skip
    p.add_argument(
        "--max-files-gb", type=float, default=DEFAULT_MAX_FILES_BYTES / 2**30, metavar="GB",
        help="uploaded files kept per API key (20)",
    )  # fmt: skip
    p.add_argument(
        "--file-ttl-hours", type=float, default=DEFAULT_FILE_TTL_S / 3600, metavar="H",
        help="uploaded files expire after this long (48)",
    )  # fmt: skip
    p.add_argument(
        "--header-timeout", type=float, default=10.0, metavar="S",
        help="close a connection whose request headers take longer (10)",
    )  # fmt: skip
    p.add_argument(
        "--body-timeout", type=float, default=60.0, metavar="S",
        help="close a connection whose request body takes longer after its headers (60)",
    )  # fmt: skip
    p.add_argument(
        "--max-connections", type=_positive, default=512, metavar="N",
        help="open connections at most; beyond, the oldest still sending headers is closed (512)",
    )  # fmt: skip
    p.add_argument(
        "--env-suspend-after", type=float, default=DEFAULT_ENV_IDLE_S, metavar="S",
        help="suspend an environment's session after this many seconds unused: files are "
        "kept, variables lost (600)",
    )  # fmt: skip
    p.add_argument(
        "--env-ttl-hours", type=float, default=DEFAULT_ENV_TTL_S / 3600, metavar="H",
        help="delete an environment unused for this long (24)",
    )  # fmt: skip
    p.add_argument(
        "--max-environments", type=_positive, default=DEFAULT_MAX_ENVIRONMENTS, metavar="N",
        help="environments per API key (10)",
    )  # fmt: skip
    p.add_argument(
        "--ssl-certfile", type=Path, default=None, metavar="PATH",
        help="serve https (and wss, which client.aio.live.connect uses) with this certificate",
    )  # fmt: skip
    p.add_argument(
        "--ssl-keyfile", type=Path, default=None, metavar="PATH",
        help="the certificate's private key (with --ssl-certfile)",
    )  # fmt: skip
    return p


def parse_args(argv: list[str] | None) -> ServerConfig:
    args = build_parser().parse_args(argv)
    if args.queue_size < 0:
        raise SystemExit("--queue-size must be >= 0")
    for flag, value in (
        ("--max-file-mb", args.max_file_mb),
        ("--max-files-gb", args.max_files_gb),
        ("--file-ttl-hours", args.file_ttl_hours),
        ("--env-suspend-after", args.env_suspend_after),
        ("--env-ttl-hours", args.env_ttl_hours),
    ):
        if not value > 0:
            raise SystemExit(f"{flag} must be > 0")
    if (args.ssl_certfile is None) != (args.ssl_keyfile is None):
        raise SystemExit("--ssl-certfile and --ssl-keyfile go together")
    return ServerConfig(
        host=args.host,
        port=args.port,
        model=args.model,
        api_key=args.api_key or None,
        max_concurrency=args.max_concurrency,
        queue_size=args.queue_size,
        aliases=dict(args.alias),
        aliases_only=args.aliases_only,
        allow_scripted=args.allow_scripted,
        max_body_bytes=int(args.max_body_mb * 2**20),
        max_steps=args.max_steps,
        batching=args.batching,
        time_budget_s=args.time_budget,
        data_dir=args.data_dir,
        max_file_bytes=int(args.max_file_mb * 2**20),
        max_files_bytes=int(args.max_files_gb * 2**30),
        file_ttl_s=args.file_ttl_hours * 3600,
        header_timeout_s=args.header_timeout,
        body_timeout_s=args.body_timeout,
        max_connections=args.max_connections,
        environment_idle_s=args.env_suspend_after,
        environment_ttl_s=args.env_ttl_hours * 3600,
        max_environments=args.max_environments,
        ssl_certfile=args.ssl_certfile,
        ssl_keyfile=args.ssl_keyfile,
    )
