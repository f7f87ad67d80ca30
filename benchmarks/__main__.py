"""`python -m benchmarks run|report|generate|sandbox|server|model`."""

from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "run": ("benchmarks.runner", "solve a suite's tasks with a model and score them"),
    "report": ("benchmarks.report", "tables and a plot from results files"),
    "generate": ("benchmarks.generate", "rewrite the suite files from the seed"),
    "sandbox": ("benchmarks.sandbox_perf", "sandbox latency/throughput vs baselines"),
    "server": ("benchmarks.server_load", "load test of the HTTP server"),
    "model": ("benchmarks.model_perf", "local model: concurrent server solves, decode speed"),
}


def usage() -> str:
    lines = ["usage: python -m benchmarks COMMAND [options]", "", "commands:"]
    lines += [f"  {name:<9} {help_}" for name, (_, help_) in COMMANDS.items()]
    lines.append("\n`python -m benchmarks COMMAND --help` for a command's options.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    command, rest = argv[0], argv[1:]
    if command not in COMMANDS:
        print(f"unknown command {command!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[command][0])  # lazy: each pulls its own deps
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
