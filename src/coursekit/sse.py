"""Read Server-Sent Events as a client would, with a time limit on every event.

Parsing is done by httpx-sse; this module adds time limits and readable failures.

    async with sse_stream(client, "POST", "/chat/stream", json={"message": "hi"}) as stream:
        async for event in stream:
            print(event.event, event.data)

    events = await read_sse(client, "GET", "/events")   # the whole stream as a list
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError, aconnect_sse

from .checks import CheckFailed, describe
from .client import DEFAULT_TIMEOUT


class SSEStream:
    """An open event stream; iterate it to get httpx_sse.ServerSentEvent objects."""

    def __init__(self, source: EventSource, timeout: float) -> None:
        self.response: httpx.Response = source.response
        self.timeout = timeout
        self._events = source.aiter_sse()

    def __aiter__(self) -> AsyncIterator[ServerSentEvent]:
        return self

    async def __anext__(self) -> ServerSentEvent:
        request = self.response.request
        try:
            async with asyncio.timeout(self.timeout):
                return await anext(self._events)
        except TimeoutError:
            raise CheckFailed(
                f"No event arrived from {request.method} {request.url.path} within "
                f"{self.timeout:g} s (the stream is still open)."
            ) from None
        except SSEError as exc:
            raise CheckFailed(f"The response is not an event stream: {exc}\n{describe(self.response)}") from None


@asynccontextmanager
async def sse_stream(
    client: httpx.AsyncClient, method: str, url: str, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any
) -> AsyncIterator[SSEStream]:
    """Open an SSE stream; each event must arrive within `timeout` seconds of the previous one."""
    async with aconnect_sse(client, method, url, **kwargs) as source:
        yield SSEStream(source, timeout)


async def read_sse(
    client: httpx.AsyncClient, method: str, url: str, *, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any
) -> list[ServerSentEvent]:
    """Every event of a stream, read until the server ends it (at most `timeout` s per event)."""
    async with sse_stream(client, method, url, timeout=timeout, **kwargs) as stream:
        return [event async for event in stream]
