"""Unit tests of coursekit.sse's helpers for test cells: parse_wire, record_sse, StreamRecord,
expect_event_stream (notebook 08). sse_stream and read_sse are tested in test_toolkit.py."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from coursekit import (
    CheckFailed,
    FakeLLM,
    StreamRecord,
    app_client,
    expect_event_stream,
    parse_wire,
    record_sse,
)

pytestmark = pytest.mark.anyio

SHORT = 0.1  # seconds: a wait that is meant to run out


@pytest.fixture
def anyio_backend():
    return "asyncio"


def stream_app(llm: FakeLLM) -> FastAPI:
    app = FastAPI()

    @app.get("/numbers")
    async def numbers() -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            for n in range(5):
                yield f"data: {n}\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/tokens")
    async def tokens(prompt: str) -> StreamingResponse:
        async def events() -> AsyncIterator[str]:
            async for token in llm.astream(prompt):
                yield f"data: {token}\n\n"
        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/plain")
    async def plain() -> JSONResponse:
        return JSONResponse({"not": "a stream"})

    @app.get("/teapot")
    async def teapot() -> JSONResponse:
        return JSONResponse({"detail": "short and stout"}, status_code=418)

    return app


class _Stream(httpx.AsyncByteStream):
    """A response body that sends one event, then breaks or goes silent."""

    def __init__(self, then: str) -> None:
        self.then = then

    async def __aiter__(self) -> AsyncIterator[bytes]:
        yield b"data: first\n\n"
        if self.then == "break":
            raise httpx.ReadError("the connection was reset")
        await asyncio.sleep(30)  # silent: the reader's time limit ends the wait (and cancels this)


def transport_that(then: str) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=_Stream(then))
    return httpx.MockTransport(handler)


# parse_wire


async def test_parse_wire_gives_the_events_a_client_parses():
    events = await parse_wire("event: greet\ndata: line one\ndata: line two\nid: 7\n\ndata: second\n\n")
    # multi-line data is joined with "\n"; the last event id carries over, as the SSE standard says
    assert [(e.event, e.data, e.id) for e in events] == [("greet", "line one\nline two", "7"), ("message", "second", "7")]


async def test_parse_wire_drops_an_event_without_its_closing_blank_line():
    assert [e.data for e in await parse_wire("data: complete\n\ndata: unfinished\n")] == ["complete"]
    assert await parse_wire(": only a comment\n\n") == []


# record_sse and StreamRecord


async def test_record_sse_records_every_event_and_when_it_arrived():
    async with app_client(stream_app(FakeLLM())) as client:
        record = await record_sse(client, "GET", "/numbers")
    assert isinstance(record, StreamRecord)
    assert record.data == ["0", "1", "2", "3", "4"]
    assert len(record.arrival) == 5 and record.arrival == sorted(record.arrival) and record.arrival[0] >= 0
    assert record.cut is None and record.model_stats == []
    assert record.response.status_code == 200


async def test_record_sse_notes_the_watched_models_counters_at_each_event():
    llm = FakeLLM(token_delay=0)
    async with app_client(stream_app(llm)) as client:
        record = await record_sse(client, "GET", "/tokens", params={"prompt": "hello"}, watch=llm)
    assert "".join(record.data) == llm.reply_for("hello")
    assert len(record.model_stats) == len(record.events)
    assert record.model_stats[-1] == llm.stats()  # a snapshot: a dict of the counters


async def test_record_sse_leaves_after_stop_after_events():
    async with app_client(stream_app(FakeLLM())) as client:
        record = await record_sse(client, "GET", "/numbers", stop_after=2)
    assert record.data == ["0", "1"]


async def test_record_sse_records_a_non_stream_answer_without_events_and_keeps_its_body():
    async with app_client(stream_app(FakeLLM())) as client:
        teapot = await record_sse(client, "GET", "/teapot")
        plain = await record_sse(client, "GET", "/plain")
    assert teapot.events == [] and teapot.response.status_code == 418
    assert teapot.response.json() == {"detail": "short and stout"}
    assert plain.events == [] and plain.response.json() == {"not": "a stream"}


async def test_record_sse_notes_a_connection_that_breaks_mid_stream_in_cut():
    async with httpx.AsyncClient(transport=transport_that("break"), base_url="http://test") as client:
        record = await record_sse(client, "GET", "/stream")
    assert record.data == ["first"]
    assert record.cut == "ReadError: the connection was reset"


async def test_record_sse_fails_when_an_event_does_not_come_in_time():
    async with httpx.AsyncClient(transport=transport_that("go silent"), base_url="http://test") as client:
        with pytest.raises(CheckFailed, match=r"No event arrived from GET /stream within 0.1 s"):
            await record_sse(client, "GET", "/stream", timeout=SHORT)


# expect_event_stream


async def test_expect_event_stream_passes_for_a_200_event_stream():
    async with app_client(stream_app(FakeLLM())) as client:
        assert expect_event_stream(await record_sse(client, "GET", "/numbers")) is None


async def test_expect_event_stream_fails_on_another_status_with_the_body_and_hint():
    async with app_client(stream_app(FakeLLM())) as client:
        record = await record_sse(client, "GET", "/teapot")
    with pytest.raises(CheckFailed) as info:
        expect_event_stream(record, hint="stream it")
    message = str(info.value)
    assert "GET /teapot should answer 200, but it answered 418." in message
    assert "short and stout" in message and "Hint: stream it" in message


async def test_expect_event_stream_fails_on_another_content_type():
    async with app_client(stream_app(FakeLLM())) as client:
        record = await record_sse(client, "GET", "/plain")
    with pytest.raises(CheckFailed, match="the Content-Type should be text/event-stream, got 'application/json'"):
        expect_event_stream(record)
