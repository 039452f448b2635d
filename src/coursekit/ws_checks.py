"""Checks for WebSocket test cells: connect, receive, expect a close, all with readable failures.

`websocket(client, path)` (in client.py) opens a connection whose receives have a time limit. The
helpers here sit on top of it and turn what can go wrong into a CheckFailed that says what the test
expected, so a test cell reads like the protocol it checks:

    async with ws_connect(client, "/ws/tokens") as ws:
        await ws.send_json({"type": "ping"})
        reply = await ws_receive(ws, 'a {"type": "pong"} answer to a ping')
        await ws.send_json({"type": "bye"})
        await expect_closed(ws, 1000)

Used by notebook 05 (WebSockets). Every wait has a time limit (2 s unless told otherwise).

The names carry a `ws_` prefix where the plain word (`connect`, `receive`) is one a notebook may well
use for something else: a toolkit name must never be rebound in a notebook (grading checks it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import httpx_ws

from .checks import CheckFailed, fail
from .client import WebSocketSession, websocket

# What the close codes a learner meets in the course mean (RFC 6455, section 7.4).
_CLOSE_CODES = {
    1000: "normal closure",
    1001: "going away",
    1003: "unsupported data",
    1008: "policy violation",
    1011: "the handler raised an exception",
}


def _code_text(code: int) -> str:
    """A close code with its meaning when it is a well-known one: 'code 1008, policy violation'."""
    meaning = _CLOSE_CODES.get(code)
    return f"code {code}" + (f", {meaning}" if meaning else "")


@asynccontextmanager
async def ws_connect(
    client: httpx.AsyncClient, path: str, *, timeout: float = 2.0, **kwargs: Any
) -> AsyncIterator[WebSocketSession]:
    """Open a WebSocket on `path` for a test; a refused connection becomes a failure that says why.

    Args:
        client: an `app_client(app)` or a `serve(app)` server's client.
        path: the WebSocket's path, with its query string if any.
        timeout: the time limit, in seconds, of each receive on the connection.
        **kwargs: passed on to `websocket(...)` (headers, for example).

    Yields the open `WebSocketSession`. Raises CheckFailed when the server closes the connection
    before accepting it (the message names the close code and what it means) or answers the
    handshake with an HTTP status instead of upgrading.
    """
    try:
        async with websocket(client, path, timeout=timeout, **kwargs) as ws:
            yield ws
    except httpx_ws.WebSocketDisconnect as exc:
        fail(
            f"The server closed WebSocket {path} before accepting it ({_code_text(exc.code)}).",
            hint="is the route defined with this path, and does the handler call `await websocket.accept()`? "
            "Code 1011 means it raised before accepting (still `NotImplementedError`?).",
        )
    except httpx_ws.WebSocketUpgradeError as exc:
        fail(
            f"The server refused the WebSocket handshake for {path} with HTTP {exc.response.status_code}.",
            hint="403 means the handler closed before accepting; 500 means it raised an exception first.",
        )


async def ws_refusal_code(client: httpx.AsyncClient, path: str, **kwargs: Any) -> int | None:
    """The close code when the server refuses a WebSocket before accepting it; None when it accepts.

    Args:
        client: an `app_client(app)` or a `serve(app)` server's client.
        path: the WebSocket's path, with its query string if any.
        **kwargs: passed on to `websocket(...)`.

    An accepted connection is closed again at once. Receives on it would wait at most 2 s.
    """
    try:
        async with websocket(client, path, timeout=2.0, **kwargs):
            return None
    except httpx_ws.WebSocketDisconnect as exc:
        return exc.code


async def ws_receive(
    ws: WebSocketSession, expecting: str, hint: str | None = None, timeout: float = 2.0
) -> Any:
    """The next message on `ws`, parsed as JSON, or a failure that says what was expected instead.

    Args:
        ws: a connection opened with `ws_connect` or `websocket`.
        expecting: what the test waits for, in words ("a pong"); it ends every failure message.
        hint: what to change, shown under the failure.
        timeout: seconds to wait for the message.

    Raises CheckFailed when no message comes within `timeout`, when the server closes the
    connection instead, or when the message is not JSON.
    """
    try:
        return await ws.receive_json(timeout=timeout)
    except CheckFailed as exc:
        fail(f"{exc} Expected {expecting}.", hint=hint)
    except ValueError:
        fail(f"A message on {ws.path} was not JSON; expected {expecting}.", hint="send with send_json(...)")


async def expect_closed(ws: WebSocketSession, code: int, hint: str | None = None, timeout: float = 2.0) -> None:
    """The server must close the connection with close code `code` within `timeout` seconds.

    This is `ws.expect_close(code)` with a hint added to its failure. Raises CheckFailed when the
    connection stays open, when a message arrives instead, or when the close code differs.
    """
    try:
        await ws.expect_close(code, timeout=timeout)
    except CheckFailed as exc:
        fail(str(exc), hint=hint)


async def sessions_become(
    client: httpx.AsyncClient, expected: list[str], hint: str | None = None, seconds: float = 2.0
) -> None:
    """Ask GET /sessions every 20 ms until its "sessions" list equals `expected`.

    For apps that list their open connections at GET /sessions as {"sessions": [...]}. A handler
    cleans up just after its client leaves, so the list may need a moment to change.

    Args:
        client: the client of the app under test.
        expected: the list the app should report, in its order.
        hint: what to change, shown under the failure.
        seconds: how long to keep asking; 0 asks once.

    Raises CheckFailed with the last list the app reported when it never equals `expected`.
    """
    deadline = time.monotonic() + seconds
    while True:
        listed = (await client.get("/sessions")).json().get("sessions")
        if listed == expected:
            return
        if time.monotonic() > deadline:
            within_text = f" within {seconds:g} s" if seconds else ""
            fail(f"GET /sessions should list {expected}{within_text}, but it lists {listed}.", hint=hint)
        await asyncio.sleep(0.02)
