"""`python -m agent solve`: output, files, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from agent.cli import main

ROOT = Path(__file__).resolve().parents[2]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
KEY_VARS = (
    "OPENAI_API_KEY",
    "OPENAI_BASE_URL",
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "ANTHROPIC_API_KEY",
)


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in KEY_VARS and k != "CODEXEC_MODEL"}
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.run(
        [sys.executable, "-m", "agent", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_json_output_is_pure_contract_json(script, tmp_path):
    proc = run_cli(
        "solve", "plot squares", "--model", script("figure.json"), "--json", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # nothing but the object on stdout
    assert set(data) == {"candidates", "usageMetadata", "finalAnswer", "steps", "durationS"}
    candidate = data["candidates"][0]
    assert candidate["finishReason"] == "STOP"
    assert candidate["content"]["role"] == "model"
    parts = candidate["content"]["parts"]
    assert [next(iter(p)) for p in parts] == [
        "text",
        "executableCode",
        "codeExecutionResult",
        "inlineData",
        "text",
    ]
    assert parts[1]["executableCode"]["language"] == "PYTHON"
    assert parts[2]["codeExecutionResult"]["outcome"] == "OUTCOME_OK"
    assert set(data["usageMetadata"]) == {
        "promptTokenCount",
        "candidatesTokenCount",
        "toolUsePromptTokenCount",
        "totalTokenCount",
    }
    assert data["finalAnswer"] == "done"
    assert data["steps"] == 2
    assert (tmp_path / "outputs" / "figure_1.png").read_bytes().startswith(PNG_MAGIC)


def test_rich_output_streams_code_results_figures_and_answer(script, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "figs"
    code = main(["solve", "plot", "--model", script("figure.json"), "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    assert "Plotting." in printed
    assert "plt.plot" in printed
    assert "OUTCOME_OK" in printed and "plotted" in printed
    assert f"figure saved to {out / 'figure_1.png'}" in printed
    assert "Final answer: done" in printed
    assert "tokens: prompt" in printed and "tool-use" in printed and "steps 2" in printed
    assert (out / "figure_1.png").read_bytes().startswith(PNG_MAGIC)


def test_created_files_are_saved_to_out(script, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["solve", "squares", "--model", script("write_file.json"), "--out", str(out)]) == 0
    assert (out / "squares.csv").read_text().startswith("n,sq\n0,0\n")
    assert "file saved to" in capsys.readouterr().out


def test_input_file_option(script, tmp_path, capsys):
    data = tmp_path / "data.csv"
    data.write_text("value\n20\n22\n")
    argv = ["solve", "sum", "--model", script("read_csv.json"), "--file", str(data)]
    assert main([*argv, "--max-steps", "1", "--json", "--out", str(tmp_path / "o")]) == 0
    assert json.loads(capsys.readouterr().out)["finalAnswer"] == "42"


def test_unknown_model_exits_2(tmp_path):
    proc = run_cli("solve", "q", "--model", "nosuch:thing", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "unknown model" in proc.stderr and "scripted:PATH" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("spec", "variable"),
    [
        ("openai:gpt-4o-mini", "OPENAI_API_KEY"),
        ("gemini:gemini-2.0-flash", "GEMINI_API_KEY"),
        ("anthropic:claude-3-5-haiku-latest", "ANTHROPIC_API_KEY"),
    ],
)
def test_missing_key_exits_3(spec, variable, monkeypatch, capsys):
    for name in KEY_VARS:
        monkeypatch.delenv(name, raising=False)
    assert main(["solve", "q", "--model", spec]) == 3
    err = capsys.readouterr().err
    assert variable in err and len(err.strip().splitlines()) == 1


def test_missing_file_exits_2(script, tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert main(["solve", "q", "--model", script("no_code.json"), "--file", str(missing)]) == 2
    err = capsys.readouterr().err
    assert "file not found" in err and "nope.csv" in err


def test_missing_script_and_bad_arguments_exit_2(tmp_path, capsys):
    assert main(["solve", "q", "--model", f"scripted:{tmp_path / 'none.json'}"]) == 2
    assert "not found" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["solve"])
    assert exc.value.code == 2
    assert main(["solve", "q", "--model", "scripted:x", "--max-steps", "0"]) == 2


def test_model_error_exits_1_with_json_kept(script, tmp_path, capsys):
    argv = ["solve", "q", "--model", script("model_error.json"), "--json"]
    assert main([*argv, "--out", str(tmp_path)]) == 1
    captured = capsys.readouterr()
    data = json.loads(captured.out)
    candidate = data["candidates"][0]  # Gemini's enum has no ERROR: OTHER, and why
    assert candidate["finishReason"] == "OTHER"
    assert candidate["finishMessage"].startswith("Stopped by an error. ")
    assert "HTTP 500" in data["error"]
    assert "HTTP 500" in captured.err


@pytest.mark.parametrize(("command", "module"), [("serve", "serve"), ("mcp", "mcp_server")])
def test_serve_and_mcp_are_dispatched(command, module, monkeypatch):
    import types

    seen = []
    fake = types.ModuleType(f"agent.server.{module}")
    fake.main = lambda argv: seen.append(argv) or 0
    monkeypatch.setitem(sys.modules, f"agent.server.{module}", fake)
    assert main([command, "--port", "9"]) == 0
    assert seen == [["--port", "9"]]


def test_question_from_stdin_and_bad_out(script, tmp_path, capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdin", io.StringIO("What is 2+2?\n"))
    argv = ["solve", "-", "--model", script("no_code.json"), "--json"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    assert json.loads(capsys.readouterr().out)["finalAnswer"] == "4"
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert main(["solve", "q", "--model", script("no_code.json"), "--out", str(not_a_dir)]) == 2
    assert "not a directory" in capsys.readouterr().err


def test_final_answer_is_printed_once(script, tmp_path, capsys):
    """The model's own "Final answer: done" is streamed; the summary must not repeat it."""
    argv = ["solve", "plot", "--model", script("figure.json"), "--out", str(tmp_path)]
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert printed.count("Final answer") == 1, printed
    assert "Final answer: done" in printed
    assert printed.index("Final answer: done") < printed.index("tokens: prompt")


def test_final_answer_is_printed_when_the_prose_does_not_state_it(make_script, tmp_path, capsys):
    spec = make_script([{"text": "I think it is 12.\n\n12"}])
    assert main(["solve", "q", "--model", spec, "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("Final answer") == 1, printed
    assert "Final answer: 12" in printed
