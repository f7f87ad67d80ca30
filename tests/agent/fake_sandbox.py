"""TEMPORARY in-process stand-in for sandbox.Sandbox until the real one lands."""

from __future__ import annotations

import base64
import contextlib
import io
import os
import shutil
import tempfile
import traceback
from types import SimpleNamespace


class FakeSandbox:
    instances: list[FakeSandbox] = []

    def __init__(self, limits=None):
        self.dir = tempfile.mkdtemp(prefix="fake-sb-")
        self.ns: dict = {"__name__": "__main__"}
        self.closed = False
        FakeSandbox.instances.append(self)

    def put_file(self, name, data):
        with open(os.path.join(self.dir, name), "wb") as f:
            f.write(data)

    def _snapshot(self):
        return {n: os.stat(os.path.join(self.dir, n)).st_mtime_ns for n in os.listdir(self.dir)}

    def run(self, code, timeout_s=None):
        if self.closed:
            raise RuntimeError("closed")
        before = self._snapshot()
        out, err = io.StringIO(), io.StringIO()
        error = None
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                exec(compile(code, "<code>", "exec"), self.ns)
        except Exception as exc:
            error = SimpleNamespace(
                name=type(exc).__name__, message=str(exc), traceback=traceback.format_exc()
            )
        finally:
            os.chdir(cwd)
        figures = []
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        for num in plt.get_fignums():
            buf = io.BytesIO()
            plt.figure(num).savefig(buf, format="png")
            figures.append(
                SimpleNamespace(
                    mime_type="image/png", data=base64.b64encode(buf.getvalue()).decode()
                )
            )
        plt.close("all")
        after = self._snapshot()
        files = [self._info(n) for n in after if before.get(n) != after[n]]
        verdict = "ok" if error is None else "runtime_error"
        return SimpleNamespace(
            outcome="OUTCOME_OK" if error is None else "OUTCOME_FAILED",
            verdict=verdict,
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            error=error,
            figures=figures,
            files=files,
            duration_s=0.0,
        )

    def _info(self, name):
        return SimpleNamespace(
            name=name, size=os.path.getsize(os.path.join(self.dir, name)), mime_type="text/plain"
        )

    def list_files(self):
        return [self._info(n) for n in os.listdir(self.dir)]

    def read_file(self, name):
        with open(os.path.join(self.dir, name), "rb") as f:
            return f.read()

    def close(self):
        self.closed = True
        shutil.rmtree(self.dir, ignore_errors=True)
