"""Talk to an app the way a real client does, without leaving the kernel.

`app_client(app)` gives an httpx.AsyncClient wired to the app through ASGI
(no port, no network), with the app's lifespan run around it. Every request
has a time limit, so an endpoint that never answers fails in seconds instead
of hanging the notebook, and when the app raises, the response remembers the
exception so that the assertion helpers can show it.

    async with app_client(app) as client:
        r = await client.get("/health")

The same client speaks WebSocket through `websocket(client, "/ws")`.

One thing the in-process transport cannot do: deliver a streamed body piece by
piece (httpx's ASGI transport collects the whole body first). For real
streaming, time to first token or client disconnects, run the app on a real
server with `coursekit.serve(app)`.
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from httpx_ws import WebSocketDisconnect, aconnect_ws
from httpx_ws.transport import ASGIWebSocketTransport

from .checks import CheckFailed

DEFAULT_TIMEOUT = 5.0

# The exceptions an app raised while serving the current request (one list per request).
_app_errors: contextvars.ContextVar[list[BaseException] | None] = contextvars.ContextVar(
    "coursekit_app_errors", default=None
)


def _recording_errors(app: Any) -> Any:
    """Wrap an ASGI app so that exceptions it raises are remembered for the current request."""

    async def app_recording_errors(scope: dict, receive: Any, send: Any) -> None:
        try:
            await app(scope, receive, send)
        except Exception as exc:
            errors = _app_errors.get()
            if errors is not None:
                errors.append(exc)
            raise

    return app_recording_errors


class CourseClient(httpx.AsyncClient):
    """An httpx.AsyncClient whose every request must finish within `request_timeout` seconds."""

    def __init__(self, *, request_timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> None:
        self.request_timeout = request_timeout
        kwargs.setdefault("timeout", request_timeout)
        super().__init__(**kwargs)

    async def send(self, request: httpx.Request, **kwargs: Any) -> httpx.Response:
        errors: list[BaseException] = []
        token = _app_errors.set(errors)
        try:
            response = await asyncio.wait_for(super().send(request, **kwargs), self.request_timeout)
        except (TimeoutError, httpx.TimeoutException):
            raise CheckFailed(
                f"{request.method} {request.url.raw_path.decode()} got no answer within "
                f"{self.request_timeout:g} s. Does the endpoint wait for something that never "
                "happens (an await without a time limit, a lock, an endless loop)?"
            ) from None
        finally:
            _app_errors.reset(token)
        if errors:
            response.app_error = errors[-1]  # read by checks.describe()
        return response


def _single_error(group: BaseExceptionGroup) -> BaseException | None:
    """The one exception inside (nested) single-member groups, or None if there are several."""
    error: BaseException = group
    while isinstance(error, BaseExceptionGroup):
        if len(error.exceptions) != 1:
            return None
        error = error.exceptions[0]
    return error


@asynccontextmanager
async def _plain_errors() -> AsyncIterator[None]:
    """Re-raise a lone exception that a task group wrapped, so learners see the failed check itself."""
    try:
        yield
    except BaseExceptionGroup as group:
        error = _single_error(group)
        if error is None:
            raise
        raise error from None


@asynccontextmanager
async def app_client(
    app: Any,
    *,
    lifespan: bool = True,
    timeout: float = DEFAULT_TIMEOUT,
    base_url: str = "http://testserver",
    **client_kwargs: Any,
) -> AsyncIterator[CourseClient]:
    """An in-process client for `app` (HTTP and WebSocket), running its lifespan.

    Pass lifespan=False for a bare ASGI app that does not speak the lifespan protocol.
    """
    async with _plain_errors(), AsyncExitStack() as stack:
        target = app
        if lifespan:
            manager = LifespanManager(app, startup_timeout=timeout, shutdown_timeout=timeout)
            try:
                await stack.enter_async_context(manager)
            except TimeoutError:
                raise CheckFailed(f"The app's lifespan start-up did not finish within {timeout:g} s.") from None
            target = manager.app
        transport = ASGIWebSocketTransport(
            app=_recording_errors(target),
            raise_app_exceptions=False,
            initial_receive_timeout=timeout,
        )
        client = CourseClient(
            transport=transport, base_url=base_url, request_timeout=timeout, **client_kwargs
        )
        yield await stack.enter_async_context(client)


class WebSocketSession:
    """A WebSocket connection whose receive calls all have a time limit."""

    def __init__(self, ws: Any, path: str, timeout: float) -> None:
        self.raw = ws  # the underlying httpx_ws.AsyncWebSocketSession
        self.path = path
        self.timeout = timeout

    async def send_json(self, data: Any) -> None:
        await self.raw.send_json(data)

    async def send_text(self, text: str) -> None:
        await self.raw.send_text(text)

    async def send_bytes(self, data: bytes) -> None:
        """Send a binary frame (a server that only calls receive_text() fails on it)."""
        await self.raw.send_bytes(data)

    async def _receive(self, method: str, timeout: float | None) -> Any:
        limit = self.timeout if timeout is None else timeout
        try:
            return await getattr(self.raw, method)(timeout=limit)
        except TimeoutError:
            raise CheckFailed(
                f"No message arrived on WebSocket {self.path} within {limit:g} s."
            ) from None
        except WebSocketDisconnect as exc:
            raise CheckFailed(
                f"WebSocket {self.path} was closed (code {exc.code}, reason {exc.reason!r}) "
                "while a message was expected."
            ) from None

    async def receive_json(self, timeout: float | None = None) -> Any:
        return await self._receive("receive_json", timeout)

    async def receive_text(self, timeout: float | None = None) -> str:
        return await self._receive("receive_text", timeout)

    async def expect_close(self, code: int | None = None, timeout: float | None = None) -> int:
        """Wait for the server to close the connection; check its close code if given."""
        limit = self.timeout if timeout is None else timeout
        try:
            message = await self.raw.receive(timeout=limit)
        except TimeoutError:
            raise CheckFailed(f"WebSocket {self.path} should have been closed within {limit:g} s, but it stayed open.") from None
        except WebSocketDisconnect as exc:
            closed_code = exc.code
        else:
            raise CheckFailed(f"WebSocket {self.path} should have been closed, but it sent a message: {message!r}")
        if code is not None and closed_code != code:
            raise CheckFailed(f"WebSocket {self.path} was closed with code {closed_code}; expected {code}.")
        return closed_code

    async def close(self, code: int = 1000) -> None:
        await self.raw.close(code)


@asynccontextmanager
async def websocket(
    client: httpx.AsyncClient, path: str, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any
) -> AsyncIterator[WebSocketSession]:
    """Open a WebSocket on `path` through `client` (in-process or to a real server).

    A server that refuses the connection (closes before accepting) raises
    httpx_ws.WebSocketDisconnect with its close code.
    """
    async with _plain_errors(), aconnect_ws(path, client, **kwargs) as ws:
        yield WebSocketSession(ws, path, timeout)
