"""An inspector for raw ASGI apps: it names the protocol rule an HTTP answer breaks.

Notebook 02 has learners write ASGI apps with no framework. When such an app forgets a message or
sends a `str` where ASGI wants `bytes`, the symptom is usually puzzling (a client that waits, a
server log line, a half answer). The test cells wrap the app instead:

    async with app_client(strict_asgi(my_app), lifespan=False) as client:
        r = await client.get("/")

and a broken rule becomes an ASGIRuleBroken raised from the app, which the client records and the
checks show as "Your code raised ASGIRuleBroken: <the rule, in plain words>".

The rules checked, for HTTP (lifespan and WebSocket scopes pass through untouched):

1. `http.response.start` comes first, once, with an `int` status and headers that are pairs of bytes.
2. Then `http.response.body` messages with a `bytes` body; the last one has `more_body` False.
3. Nothing is sent after the last body message, and no other message type is sent.
4. The app does not return before its answer is complete.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


class ASGIRuleBroken(Exception):
    """A raw ASGI app broke one of the protocol's rules (raised by strict_asgi)."""


def _check_start(message: Message) -> None:
    """The rules of an http.response.start message: an int status and headers that are pairs of bytes."""
    status = message.get("status")
    if not isinstance(status, int):
        raise ASGIRuleBroken(f"the status must be an int such as 200, got {status!r}")
    for header in message.get("headers", []):
        if not (isinstance(header, (tuple, list)) and len(header) == 2 and all(isinstance(part, bytes) for part in header)):
            raise ASGIRuleBroken(
                f"each header must be a pair of bytes such as (b'content-type', b'application/json'), got {header!r}"
            )


def strict_asgi(app: ASGIApp) -> ASGIApp:
    """Wrap a raw ASGI app so that each broken rule of an HTTP answer raises a readable error.

    Args:
        app: an ASGI application (scope, receive, send).

    Returns an ASGI application that behaves like `app` and passes its messages on unchanged, but
    raises ASGIRuleBroken (saying which rule, in plain words) at the first message that breaks a
    rule of an HTTP answer, or when `app` returns before its answer is complete. The module's
    docstring lists the rules. Non-HTTP scopes (lifespan, websocket) are passed through unchecked.
    Adds no waiting of its own.
    """

    async def checked_app(scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        started = finished = False

        async def checked_send(message: Message) -> None:
            nonlocal started, finished
            kind = message.get("type")
            if finished:
                raise ASGIRuleBroken(f"{kind} was sent after the answer was complete (the last body message had more_body False)")
            if kind == "http.response.start":
                if started:
                    raise ASGIRuleBroken("http.response.start was sent twice: send it once, then the body")
                _check_start(message)
                started = True
            elif kind == "http.response.body":
                if not started:
                    raise ASGIRuleBroken("http.response.body was sent before http.response.start (status and headers come first)")
                body = message.get("body", b"")
                if not isinstance(body, bytes):
                    raise ASGIRuleBroken(f"the body must be bytes (use .encode()), got {type(body).__name__}")
                finished = not message.get("more_body", False)
            else:
                raise ASGIRuleBroken(f"unknown message type {kind!r}: an HTTP answer is http.response.start, then http.response.body")
            await send(message)

        await app(scope, receive, checked_send)
        if not started:
            raise ASGIRuleBroken("the app returned without answering: send http.response.start, then http.response.body")
        if not finished:
            raise ASGIRuleBroken(
                "the app returned before its answer was complete: the last http.response.body needs more_body False (the default)"
            )

    return checked_app
