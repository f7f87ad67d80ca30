"""Matplotlib figure capture in the session: plt.show() never blocks, it records PNGs."""

from __future__ import annotations

import io
import sys
from typing import Any

MAX_PIXELS = 25_000_000  # a figure is rendered at a lower dpi rather than exceed this


class FigureCapture:
    def __init__(self, max_figures: int, max_bytes: int) -> None:
        self.max_figures = max_figures
        self.max_bytes = max_bytes
        self.figures: list[bytes] = []
        self.dropped = 0
        self._plt: Any = None

    def install(self) -> None:
        """Patch pyplot.show and Figure.show if matplotlib is (or gets) imported."""
        try:
            import matplotlib

            matplotlib.use("Agg", force=True)
            import matplotlib.figure
            import matplotlib.pyplot as plt
        except Exception as e:  # matplotlib missing or broken: figures just aren't captured
            print(f"sandbox: figure capture disabled: {e}", file=sys.stderr)
            return
        self._plt = plt
        capture = self

        def show(*args: Any, **kwargs: Any) -> None:
            capture.capture_open()

        def figure_show(fig: Any, *args: Any, **kwargs: Any) -> None:
            capture.capture(fig)
            plt.close(fig)

        plt.show = show
        setattr(matplotlib.figure.Figure, "show", figure_show)  # noqa: B010 (typed as a method)

    def reset(self) -> None:
        self.figures = []
        self.dropped = 0

    def capture_open(self) -> None:
        if self._plt is None:
            return
        plt = self._plt
        for num in plt.get_fignums():
            fig = plt.figure(num)
            self.capture(fig)
            plt.close(fig)

    def capture(self, fig: Any) -> None:
        if len(self.figures) >= self.max_figures:
            self.dropped += 1
            return
        try:
            dpi = float(fig.dpi)
            w, h = fig.get_size_inches()
            pixels = w * h * dpi * dpi
            if pixels > MAX_PIXELS:
                dpi = max(10.0, dpi * (MAX_PIXELS / pixels) ** 0.5)
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=dpi)
        except Exception as e:
            print(f"[figure could not be rendered: {type(e).__name__}: {e}]", file=sys.stderr)
            return
        data = buf.getvalue()
        if len(data) > self.max_bytes:
            print(
                f"[figure dropped: {len(data)} bytes > limit {self.max_bytes}]",
                file=sys.stderr,
            )
            return
        self.figures.append(data)

    def finish(self) -> list[bytes]:
        """Capture figures left open at the end of the run; return all of this run's PNGs."""
        self.capture_open()
        if self.dropped:
            print(
                f"[{self.dropped} figure(s) dropped: at most {self.max_figures} per run]",
                file=sys.stderr,
            )
        return self.figures
