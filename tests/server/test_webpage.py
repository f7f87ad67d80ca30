"""The web page at `/`: served from package data, and driven in a real headless Chromium.

The browser test uses Debian's Chromium (`apt-get install chromium`) through Playwright, never
Playwright's own downloaded browsers; it runs the real server, sandbox and a scripted model.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, Request, expect, sync_playwright

from agent.server.webpage import ASSETS, asset

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

PLOT_TURNS = [
    {
        "text": "I will plot the parabola and look for its lowest point.",
        "code": (
            "import numpy as np\nimport matplotlib.pyplot as plt\n"
            "x = np.linspace(-1, 4, 501)\ny = x**2 - 3*x\n"
            "plt.figure(figsize=(6, 3.4))\nplt.plot(x, y, label='y = x**2 - 3*x')\n"
            "plt.axvline(1.5, ls='--', color='gray')\nplt.xlabel('x')\nplt.ylabel('y')\n"
            "plt.grid(True)\nplt.legend()\nplt.tight_layout()\nplt.show()\n"
            "print(f'minimum at x = {x[np.argmin(y)]:.2f}, y = {y.min():.2f}')"
        ),
        "usage": {"prompt_tokens": 100, "output_tokens": 80},
    },
    {
        "text": "The parabola is lowest at x = 1.5, where y = -2.25.\nFinal answer: x = 1.5",
        "usage": {"prompt_tokens": 130, "output_tokens": 20},
    },
]
CSV_TURNS = [
    {
        "text": "Let me total the sales per day.",
        "code": (
            "import pandas as pd\ndf = pd.read_csv('sales.csv')\n"
            "daily = df.groupby('day')['amount'].sum()\nprint(daily.to_string())\n"
            "print('best day:', daily.idxmax())"
        ),
    },
    {"text": "Tuesday has the highest total.\nFinal answer: Tuesday"},
]
DROP_FILE = """name => {
  const data = new DataTransfer();
  data.items.add(new File(["some notes\\n"], name, {type: "text/plain"}));
  for (const type of ["dragenter", "dragover", "drop"]) {
    document.body.dispatchEvent(new DragEvent(type, {dataTransfer: data, bubbles: true}));
  }
}"""
SALES_CSV = "day,amount\nmon,10\ntue,25\nmon,5\nwed,12\ntue,3\n"


def test_page_and_assets_are_served_without_external_references(start_server) -> None:
    server = start_server()
    for path, name in (("/", "index.html"), ("/ui/app.js", "app.js"), ("/ui/app.css", "app.css")):
        r = httpx.get(server.url + path)
        assert r.status_code == 200, path
        assert r.headers["content-type"] == ASSETS[name]
        assert r.content == asset(name)
        assert "connect-src 'self'" in r.headers["content-security-policy"]
        # no CDN, no web fonts: the page works offline
        assert not re.search(rb"https?://", r.content), f"{name} references the network"
    page = httpx.get(server.url + "/").text
    assert 'src="ui/app.js"' in page and 'href="ui/app.css"' in page
    missing = httpx.get(server.url + "/ui/secret.py")
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"
    # the page is public, the API behind it still wants the key when one is set
    keyed = start_server(api_key="k")
    assert httpx.get(keyed.url + "/").status_code == 200
    assert httpx.get(keyed.url + "/v1beta/models").status_code == 401


def _scripts(tmp_path: Path) -> tuple[str, str]:
    specs = []
    for name, turns in (("plot", PLOT_TURNS), ("csv", CSV_TURNS)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps({"turns": turns}))
        specs.append(f"scripted:{path}")
    return specs[0], specs[1]


def _set_key(page: Page, key: str) -> None:
    page.fill("#api-key", key)
    page.dispatch_event("#api-key", "change")


def _ask(page: Page, question: str) -> None:
    page.fill("#prompt", question)
    page.press("#prompt", "Enter")


def _screenshot(page: Page, path: Path) -> None:
    """The whole conversation; a viewport as tall as the page keeps the sticky bars in place."""
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": 1280, "height": height})
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": 1280, "height": 900})


@pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs Debian's Chromium at /usr/bin/chromium (apt-get install -y chromium)",
)
def test_conversation_in_a_real_browser(start_server, tmp_path: Path) -> None:
    plot_spec, csv_spec = _scripts(tmp_path)
    server = start_server(model=plot_spec, aliases={"csv-demo": csv_spec}, api_key="secret")
    sent: list[dict[str, Any]] = []

    def record(r: Request) -> None:
        if "GenerateContent" in r.url:
            sent.append({"url": r.url, "headers": r.headers, "body": r.post_data_json})

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(90_000)
            expect.set_options(timeout=90_000)  # the shared CPU can be slow
            page.on("request", record)
            page.goto(server.url + "/")

            # no key yet: the refused model listing says why, in the server's own words
            expect(page.locator("#error")).to_contain_text("unregistered callers")
            _set_key(page, "secret")
            expect(page.locator("#error")).to_be_hidden()
            expect(page.locator("#model option")).to_have_text(["default", "local", "csv-demo"])
            assert page.evaluate("localStorage.getItem('codexec.apiKey')") == "secret"

            # a question: the streamed text, the code, its output and the figure appear
            _ask(page, "Plot y = x**2 - 3*x on [-1, 4] and give the x of the minimum")
            answer = page.locator(".turn.model").nth(0)
            expect(answer.locator(".block.code")).to_contain_text("plt.plot(x, y")
            expect(answer.locator(".block.result.ok")).to_contain_text(
                "minimum at x = 1.50, y = -2.25"
            )
            expect(answer.locator(".block.result .label")).to_have_text("OUTCOME_OK")
            figure = answer.locator("img.figure")
            expect(figure).to_be_visible()
            page.wait_for_function("document.querySelector('img.figure').naturalWidth > 100")
            expect(answer.locator(".text").last).to_contain_text("Final answer: x = 1.5")
            expect(answer.locator(".usage")).to_have_text(
                re.compile(r"tokens: prompt 100 · tool-use \d+ · output 100 · total \d+")
            )
            expect(answer).not_to_have_class(re.compile("pending"))
            expect(page.locator("#files li")).to_contain_text(["figure_1.png"])
            expect(page.locator("#send")).to_have_text("Run")

            # a CSV attached through the file input, read by the code in the sandbox
            csv = tmp_path / "sales.csv"
            csv.write_text(SALES_CSV)
            page.set_input_files("#file-input", str(csv))
            expect(page.locator("#attachments li")).to_contain_text("sales.csv")
            page.select_option("#model", "csv-demo")
            _ask(page, "Which day had the highest total?")
            second = page.locator(".turn.model").nth(1)
            expect(second.locator(".block.result.ok")).to_contain_text("best day: tue")
            expect(second.locator(".block.result.ok")).to_contain_text("tue    28")
            expect(second.locator(".text").last).to_contain_text("Final answer: Tuesday")
            expect(page.locator("#files li")).to_contain_text(["figure_1.png", "sales.csv"])
            expect(page.locator("#attachments li")).to_have_count(0)
            _screenshot(page, tmp_path / "webpage.png")
            if os.environ.get("CODEXEC_WEBPAGE_SCREENSHOT"):
                _screenshot(page, Path(os.environ["CODEXEC_WEBPAGE_SCREENSHOT"]))

            # a file dropped on the page becomes an attachment (and can be taken off again)
            page.evaluate(DROP_FILE, "notes.txt")
            expect(page.locator("#attachments li")).to_have_text([re.compile(r"^notes\.txt")])
            page.click("#attachments li button")
            expect(page.locator("#attachments li")).to_have_count(0)

            # a wrong key: the refused request's Gemini error message is shown
            page.uncheck("#code-execution")
            _set_key(page, "wrong")
            expect(page.locator("#error")).to_contain_text("API key not valid")
            _ask(page, "And the worst day?")
            refused = page.locator(".turn.model").nth(2)
            expect(refused.locator(".turn-error")).to_contain_text(
                "403 PERMISSION_DENIED: API key not valid"
            )
            expect(page.locator("#error")).to_contain_text("API key not valid")
        finally:
            browser.close()

    assert (tmp_path / "webpage.png").read_bytes().startswith(PNG_MAGIC)
    _check_requests(sent)


def _check_requests(sent: list[dict[str, Any]]) -> None:
    """What the page sent: the server's streaming endpoint, the key, the file, the switch."""
    assert len(sent) == 3, [r["url"] for r in sent]
    assert all(r["url"].endswith(":streamGenerateContent?alt=sse") for r in sent)
    assert [r["url"].rsplit("/", 1)[1].split(":")[0] for r in sent] == [
        "default",
        "csv-demo",
        "csv-demo",
    ]
    keys = [r["headers"].get("x-goog-api-key") for r in sent]
    assert keys == ["secret", "secret", "wrong"]
    bodies: list[dict[str, Any]] = [r["body"] for r in sent]
    assert bodies[0]["tools"] == [{"codeExecution": {}}] and "tools" in bodies[1]
    assert "tools" not in bodies[2]  # the code-execution switch was turned off
    second = bodies[1]["contents"]
    # the whole conversation goes back: question, the model's parts, then the new question
    assert [c["role"] for c in second] == ["user", "model", "user"]
    kinds = [next(iter(part)) for part in second[1]["parts"]]
    assert kinds == ["text", "executableCode", "codeExecutionResult", "inlineData", "text"]
    blob = second[2]["parts"][1]["inlineData"]
    assert blob["displayName"] == "sales.csv" and blob["mimeType"] == "text/csv"
    assert blob["data"] == "ZGF5LGFtb3VudAptb24sMTAKdHVlLDI1Cm1vbiw1CndlZCwxMgp0dWUsMwo="
    # the refused question was not kept: the third request repeats the two answered turns
    assert [c["role"] for c in bodies[2]["contents"]] == ["user", "model"] * 2 + ["user"]
