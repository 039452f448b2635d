"""Assertion helpers for test cells: readable failures, and a word when checks pass.

Every failure names the request (method and path), the status that came back,
the start of the body, and, when the app itself raised, the exception. A test
cell reads like a specification:

    expect_status(r, 404, hint="raise HTTPException(404) for unknown ids")
    expect(r.json()["status"] == "ok", "the body should say status 'ok'")
    passed("GET /health answers 200 with status 'ok'")

Output goes to stdout only: nbgrader gives a test cell zero when it writes to stderr.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

T = TypeVar("T")

BODY_PREVIEW = 600


class CheckFailed(AssertionError):
    """A test check that did not hold; its message says what to change."""


def _body_preview(response: httpx.Response) -> str:
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return "<body not read>"
    if not text:
        return "<empty>"
    return text if len(text) <= BODY_PREVIEW else text[:BODY_PREVIEW] + " ..."


def describe(response: httpx.Response) -> str:
    """One paragraph about a response: request line, status, body, and any app error."""
    request = response.request
    lines = [
        f"  request:  {request.method} {request.url.raw_path.decode()}",
        f"  response: {response.status_code} {response.reason_phrase}".rstrip(),
        f"  body:     {_body_preview(response)}",
    ]
    error = getattr(response, "app_error", None)
    if error is not None:
        if isinstance(error, NotImplementedError):
            lines.append(
                "  The endpoint raised NotImplementedError: this exercise is not done yet. "
                "Replace the `raise NotImplementedError(...)` line with your code."
            )
        else:
            lines.append(f"  Your code raised {type(error).__name__}: {error}")
    return "\n".join(lines)


def fail(message: str, response: httpx.Response | None = None, hint: str | None = None) -> None:
    """Raise CheckFailed with the message, the response described, and a hint."""
    __tracebackhide__ = True  # show the learner's line, not this helper
    parts = [message]
    if response is not None:
        parts.append(describe(response))
    if hint:
        parts.append(f"Hint: {hint}")
    raise CheckFailed("\n".join(parts))


def expect(condition: Any, message: str, response: httpx.Response | None = None, hint: str | None = None) -> None:
    """Fail with `message` unless `condition` is true."""
    __tracebackhide__ = True  # show the learner's line, not this helper
    if not condition:
        fail(message, response, hint)


def expect_status(response: httpx.Response, expected: int, hint: str | None = None) -> None:
    """The response's status code must be `expected`."""
    __tracebackhide__ = True  # show the learner's line, not this helper
    if response.status_code != expected:
        request = response.request
        fail(
            f"{request.method} {request.url.raw_path.decode()} should answer {expected}, "
            f"but it answered {response.status_code}.",
            response,
            hint,
        )


def json_body(response: httpx.Response, hint: str | None = None) -> Any:
    """The response body parsed as JSON, or a readable failure if it is not JSON."""
    __tracebackhide__ = True  # show the learner's line, not this helper
    try:
        return response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        fail("The response body should be JSON.", response, hint)


def expect_json(response: httpx.Response, expected: Any, hint: str | None = None) -> None:
    """The response body must be exactly `expected` (compared as parsed JSON)."""
    __tracebackhide__ = True  # show the learner's line, not this helper
    body = json_body(response, hint)
    if body != expected:
        fail(
            f"The JSON body is not what was expected.\n  expected: {json.dumps(expected)}\n"
            f"  got:      {json.dumps(body)}",
            response,
            hint,
        )


def expect_keys(response: httpx.Response, keys: set[str] | list[str], hint: str | None = None) -> dict:
    """The JSON body must be an object with exactly these keys; returns the body."""
    __tracebackhide__ = True  # show the learner's line, not this helper
    body = json_body(response, hint)
    if not isinstance(body, dict):
        fail(f"The JSON body should be an object, got {type(body).__name__}.", response, hint)
    if set(body) != set(keys):
        missing, extra = sorted(set(keys) - set(body)), sorted(set(body) - set(keys))
        fail(f"The JSON object should have exactly the keys {sorted(keys)} (missing: {missing}, unexpected: {extra}).", response, hint)
    return body


async def within(awaitable: Awaitable[T], seconds: float, what: str) -> T:
    """Await with a time limit; on timeout fail with a message that says what hung."""
    __tracebackhide__ = True  # show the learner's line, not this helper
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        fail(f"Timed out after {seconds:g} s waiting for {what}.")
        raise  # unreachable, for type checkers


async def eventually(condition: Callable[[], bool], seconds: float = 2.0, every: float = 0.01) -> bool:
    """Check condition() every `every` seconds for up to `seconds`: True as soon as it holds, False if
    it never does. For what happens a little later somewhere else (a background task, a server thread):
    `expect(await eventually(lambda: llm.active == 0), "the model call should stop")`."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(every)
    return True


async def poll(client: httpx.AsyncClient, path: str, until: Callable[[httpx.Response], bool],
               seconds: float = 2.0, every: float = 0.02) -> httpx.Response:
    """GET `path` every `every` seconds until until(response) holds or `seconds` have passed; returns the
    last response either way, for the checks that follow (a readiness probe that turns 200, say)."""
    deadline = time.monotonic() + seconds
    while True:
        response = await client.get(path)
        if until(response) or time.monotonic() >= deadline:
            return response
        await asyncio.sleep(every)


def passed(message: str) -> None:
    """Say that a check passed (learners like to see what already works)."""
    print(f"\u2714 {message}")


def visible_tests_passed() -> None:
    """Close a test cell's visible part: all shown checks passed, hidden ones count at grading."""
    print("\u2714 Visible tests passed. Hidden tests also run when your notebook is graded.")
