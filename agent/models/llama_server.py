"""`python -m agent.models.llama_server ARGS`: llama-cpp-python's OpenAI-compatible server
(`python -m llama_cpp.server`, same arguments), loading the model as the local backend does, so
it does not crash on CPUs whose AMX units fault (see `llama_buffers`)."""

from __future__ import annotations

import runpy

from agent.models.llama_buffers import patch_default_params


def main() -> None:
    patch_default_params()
    runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
