"""Read Server-Sent Events as a client would, with a time limit on every event.

Parsing is done by httpx-sse; this module adds time limits, readable failures and, for test cells,
a record of when each event arrived. Notebook 08 (streaming) uses all of it; 13 reads streams too.

Which one to use:

- `sse_stream(client, method, url)`: an open stream to iterate, event by event, as they arrive.
  For code that acts on each event (prints it, stops early, measures on its own).
- `read_sse(client, method, url)`: the whole stream as a list of events, when only the events
  matter. Fails when the answer is not an event stream.
- `record_sse(client, method, url)`: for test cells. A `StreamRecord` of the events, when each
  arrived, the fake model's counters at each event, and why the connection broke if it did. It
  raises on neither a broken connection nor a non-stream answer: check them afterwards, starting
  with `expect_event_stream(record)` (200 and Content-Type text/event-stream).
- `parse_wire(text)`: what a client parses out of a piece of SSE text written by hand.

    async with sse_stream(client, "POST", "/chat/stream", json={"message": "hi"}) as stream:
        async for event in stream:
            print(event.event, event.data)

    events = await read_sse(client, "GET", "/events")   # the whole stream as a list

    record = await record_sse(client, "POST", "/chat/stream", json={"message": "hi"}, watch=llm)
    expect_event_stream(record)
    print(record.data, record.arrival)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from httpx_sse import EventSource, ServerSentEvent, SSEError, aconnect_sse
from starlette.responses import Response

from .checks import CheckFailed, describe, expect, expect_status
from .client import DEFAULT_TIMEOUT, app_client
from .fake_llm import FakeLLM


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


async def parse_wire(wire: str) -> list[ServerSentEvent]:
    """The events a client parses out of `wire`, a piece of SSE text (`"data: hi\\n\\n"`).

    The text is served as a text/event-stream response in memory and read with httpx-sse, exactly
    as a client reads a real stream; text without the blank line that ends an event gives no event.
    Raises CheckFailed if reading takes more than 2 s.
    """
    app = Response(content=wire, media_type="text/event-stream")  # a response is an ASGI app too
    async with app_client(app, lifespan=False) as client:
        return await read_sse(client, "GET", "/wire", timeout=2)


@dataclass
class StreamRecord:
    """What a client saw of one event stream (made by `record_sse`)."""

    response: httpx.Response
    events: list[ServerSentEvent] = field(default_factory=list)  # in the order they arrived
    arrival: list[float] = field(default_factory=list)  # seconds from sending the request to each event
    model_stats: list[dict] = field(default_factory=list)  # the watched model's counters as each event arrived
    cut: str | None = None  # why the connection broke mid-stream, if it did

    @property
    def data(self) -> list[str]:
        """The `data` of every event, in order."""
        return [event.data for event in self.events]


async def record_sse(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    timeout: float = 2.0,
    stop_after: int | None = None,
    watch: FakeLLM | None = None,
    **kwargs: Any,
) -> StreamRecord:
    """Read an event stream, noting when each event arrived; each event must come within `timeout` s.

    Args:
        client: an `app_client(app)` (which hands over a streamed body only once it is complete)
            or a `serve(app)` server's client (events arrive as the server sends them).
        method, url: the request; `**kwargs` (json=, params=, headers=) go to it.
        timeout: the longest wait, in seconds, for each event.
        stop_after: leave after this many events, closing the connection (a user closing the tab).
        watch: a FakeLLM whose `stats()` are noted as each event arrives.

    Returns a StreamRecord. An answer that is not a 200 event stream is recorded with no events
    (its body read, for failure messages); a connection that breaks mid-stream is noted in `.cut`.
    Neither raises: check with `expect_event_stream(record)` and `record.cut`. Raises CheckFailed
    when an event does not arrive within `timeout`.
    """
    started = time.perf_counter()
    async with sse_stream(client, method, url, timeout=timeout, **kwargs) as stream:
        record = StreamRecord(stream.response)
        content_type = stream.response.headers.get("content-type", "")
        if stream.response.status_code != 200 or not content_type.startswith("text/event-stream"):
            await stream.response.aread()  # not an event stream: keep the body for the failure message
            return record
        try:
            async for event in stream:
                record.events.append(event)
                record.arrival.append(time.perf_counter() - started)
                if watch is not None:
                    record.model_stats.append(watch.stats())
                if stop_after is not None and len(record.events) >= stop_after:
                    break
        except httpx.HTTPError as exc:
            record.cut = f"{type(exc).__name__}: {exc}"
    return record


def expect_event_stream(record: StreamRecord, hint: str | None = None) -> None:
    """The recorded stream must have answered 200 with Content-Type text/event-stream.

    Raises CheckFailed, describing the response (its body included) and adding `hint`, when not.
    """
    __tracebackhide__ = True  # show the learner's line, not this helper
    expect_status(record.response, 200, hint=hint)
    content_type = record.response.headers.get("content-type", "")
    expect(content_type.startswith("text/event-stream"),
           f"the Content-Type should be text/event-stream, got {content_type!r}", record.response, hint=hint)
