"""Figure capture: plt.show() and figures left open come back as PNGs, in order."""

from __future__ import annotations

import base64
import struct
from collections.abc import Iterator

import pytest

from sandbox import Figure, Limits, Sandbox

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(fig: Figure) -> tuple[int, int]:
    data = base64.b64decode(fig.data)
    assert data.startswith(PNG_MAGIC)
    assert fig.mime_type == "image/png"
    width, height = struct.unpack(">II", data[16:24])  # IHDR
    return width, height


@pytest.fixture(scope="module")
def sb() -> Iterator[Sandbox]:
    with Sandbox(limits=Limits(max_figures=3)) as box:
        yield box


def test_show_captures_and_does_not_block(sb: Sandbox) -> None:
    r = sb.run("import matplotlib.pyplot as plt\nplt.plot([1, 2, 3])\nplt.show()\nprint('after')")
    assert (r.verdict, r.stdout) == ("ok", "after\n")
    assert len(r.figures) == 1
    assert png_size(r.figures[0]) == (640, 480)


def test_two_figures_in_order_shown_then_open(sb: Sandbox) -> None:
    code = (
        "import matplotlib.pyplot as plt\n"
        "plt.figure(figsize=(2, 2), dpi=100); plt.plot([1, 2]); plt.show()\n"
        "fig, ax = plt.subplots(figsize=(4, 3), dpi=100); ax.bar(['a', 'b'], [3, 4])\n"
    )
    r = sb.run(code)
    assert r.verdict == "ok"
    assert [png_size(f) for f in r.figures] == [(200, 200), (400, 300)]
    # figures are closed once captured: the next run starts with none
    r = sb.run("import matplotlib.pyplot as plt\nprint(len(plt.get_fignums()))")
    assert (r.stdout, r.figures) == ("0\n", [])


def test_seaborn_and_pandas_plots(sb: Sandbox) -> None:
    code = (
        "import seaborn as sns, pandas as pd\n"
        "df = pd.DataFrame({'x': [1, 2, 2, 3, 3, 3]})\n"
        "sns.histplot(df['x'])\n"
    )
    r = sb.run(code)
    assert r.verdict == "ok" and len(r.figures) == 1
    png_size(r.figures[0])


def test_figure_show_method_and_savefig_file(sb: Sandbox) -> None:
    code = (
        "import matplotlib\nmatplotlib.use('TkAgg', force=False)\n"  # an interactive ask
        "import matplotlib.pyplot as plt\n"
        "fig = plt.figure()\nplt.plot([0, 1])\nfig.savefig('plot.png')\nfig.show()\n"
    )
    r = sb.run(code)
    assert r.verdict == "ok", r.error
    assert len(r.figures) == 1
    assert [f.name for f in r.files] == ["plot.png"]
    assert r.files[0].mime_type == "image/png"
    assert sb.read_file("plot.png").startswith(PNG_MAGIC)


def test_figure_count_limit(sb: Sandbox) -> None:
    r = sb.run("import matplotlib.pyplot as plt\nfor i in range(5):\n    plt.figure()\n")
    assert r.verdict == "ok"
    assert len(r.figures) == 3
    assert "dropped" in r.stderr


def test_figure_error_in_code_still_returns_figures(sb: Sandbox) -> None:
    r = sb.run("import matplotlib.pyplot as plt\nplt.plot([1])\nplt.show()\n1/0")
    assert r.verdict == "runtime_error"
    assert len(r.figures) == 1
