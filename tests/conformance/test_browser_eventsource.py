"""A real browser `EventSource` (headless Chromium) against notebook 08's GET stream (Exercise 8), on a real socket.

The page comes from the same server (a route added to the served app for this test only), so the stream is
same-origin. Its script opens `new EventSource(url)`, collects the message events until the `end` event,
closes, and hands back what it saw. A second run makes the fake model fail mid-stream: the connection
breaks, the browser reconnects by itself with `Last-Event-ID`, and the reply must still arrive exactly once.

Skipped where no Chromium is installed (a learner's laptop); `.ci/run` installs Debian's chromium.
"""

from __future__ import annotations

import os
import shutil
import urllib.request

import pytest

from coursekit import FakeLLM
from served import served

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.skipif(CHROMIUM is None, reason="no Chromium on this machine (CI installs Debian's chromium): browser test skipped"),
    pytest.mark.xdist_group("conformance-browser-eventsource"),
]

MODEL = FakeLLM()  # same replies as the notebook's browser_llm (one data file; delays do not change the text)
LIMIT_MS = 8_000  # the page gives up on a stream after this long
TIMEOUT = 10.0  # seconds, for the test's own requests

PRELUDE = '''
def _with_page(app, llm):
    """Add, for this test only, a same-origin page and a route that makes `llm`'s next call fail."""
    from fastapi.responses import HTMLResponse

    @app.get("/_conformance/page", response_class=HTMLResponse)
    def _page() -> str:
        return "<!doctype html><html><head><title>EventSource</title></head><body>EventSource test page</body></html>"

    @app.post("/_conformance/fail_next")
    def _fail_next(kind: str = "rate_limit", after_tokens: int = 0) -> dict:
        llm.fail_next(kind, after_tokens=after_tokens)
        return {"pending": kind}

    return app
'''

# Runs in the page: open the stream, collect until the `end` event (or an error that closes it, or the limit).
COLLECT = """
async ({url, limitMs}) => await new Promise((resolve) => {
  const seen = {tokens: [], ids: [], end: null, endId: null, opens: 0, errors: 0, state: null, timedOut: false};
  const source = new EventSource(url);
  const finish = () => { clearTimeout(timer); seen.state = source.readyState; source.close(); resolve(seen); };
  const timer = setTimeout(() => { seen.timedOut = true; finish(); }, limitMs);
  source.onopen = () => { seen.opens += 1; };
  source.onmessage = (e) => { seen.tokens.push(JSON.parse(e.data).token); seen.ids.push(e.lastEventId); };
  source.addEventListener("end", (e) => { seen.end = JSON.parse(e.data); seen.endId = e.lastEventId; finish(); });
  source.onerror = () => { seen.errors += 1; if (source.readyState === EventSource.CLOSED) finish(); };
})
"""


@pytest.fixture(scope="module")
def base():
    with served("08_streaming", {"browser": "_with_page(browser_app, browser_llm)"}, prelude=PRELUDE) as urls:
        yield urls["browser"]


@pytest.fixture(scope="module")
def page(base):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        args = ["--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
        if hasattr(os, "getuid") and os.getuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args, timeout=30_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(LIMIT_MS + 2_000)
            page.goto(base + "/_conformance/page", timeout=10_000)
            yield page
        finally:
            browser.close()


def collect(page, query: str) -> dict:
    return page.evaluate(COLLECT, {"url": "/v1/stream?" + query, "limitMs": LIMIT_MS})


def prompt_query(prompt: str) -> str:
    from urllib.parse import quote

    return "prompt=" + quote(prompt, safe="")


def fail_next(base: str, kind: str, after_tokens: int) -> None:
    request = urllib.request.Request(f"{base}/_conformance/fail_next?kind={kind}&after_tokens={after_tokens}", method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        assert response.status == 200


@pytest.mark.parametrize("prompt", ["Can you stream the answer?", "What is ASGI? (café & co)"])
def test_eventsource_reads_the_whole_reply_and_closes_on_end(page, prompt):
    seen = collect(page, prompt_query(prompt))
    tokens = MODEL.tokens_for(prompt)
    assert not seen["timedOut"], f"no 'end' event within {LIMIT_MS} ms: {seen}"
    assert "".join(seen["tokens"]) == MODEL.reply_for(prompt)
    assert seen["tokens"] == tokens
    assert seen["ids"] == [str(i) for i in range(1, len(tokens) + 1)]
    assert seen["end"] == {"tokens": len(tokens)} and seen["endId"] == str(len(tokens))
    assert seen["opens"] == 1 and seen["errors"] == 0, seen


def test_eventsource_reconnects_with_last_event_id_after_a_broken_connection(page, base):
    prompt = "Tell me a joke"
    tokens = MODEL.tokens_for(prompt)
    fail_next(base, "rate_limit", after_tokens=5)  # the model fails after 5 tokens: the server drops the connection
    seen = collect(page, prompt_query(prompt))
    assert not seen["timedOut"], f"no 'end' event within {LIMIT_MS} ms: {seen}"
    assert seen["opens"] == 2 and seen["errors"] == 1, f"one broken connection, one reconnect: {seen}"
    assert seen["tokens"] == tokens, "after the reconnect the reply continues where it stopped: no token lost or repeated"
    assert seen["ids"] == [str(i) for i in range(1, len(tokens) + 1)]
    assert seen["end"] == {"tokens": len(tokens)}


def test_eventsource_gives_up_on_a_refused_request(page):
    seen = collect(page, "prompt=")  # an empty prompt: 422, not an event stream
    assert not seen["timedOut"] and seen["opens"] == 0 and seen["tokens"] == [] and seen["end"] is None, seen
    assert seen["state"] == 2, f"the browser does not retry a 422 (readyState CLOSED), got {seen}"
