"""Unit tests of coursekit.asgi_rules: strict_asgi names the ASGI rule a raw app breaks (notebook 02)."""

from __future__ import annotations

import pytest

from coursekit import ASGIRuleBroken, app_client, describe, strict_asgi

pytestmark = pytest.mark.anyio

START = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
BODY = {"type": "http.response.body", "body": b"hello"}


@pytest.fixture
def anyio_backend():
    return "asyncio"


def app_sending(*messages: dict):
    """A raw ASGI app that sends these messages, in order, and returns."""

    async def app(scope, receive, send) -> None:
        for message in messages:
            await send(message)

    return app


async def run_strictly(app):
    """The error strict_asgi raised from `app` for GET /, or None; and the response."""
    async with app_client(strict_asgi(app), lifespan=False) as client:
        response = await client.get("/")
    return getattr(response, "app_error", None), response


async def test_a_correct_answer_passes_through_unchanged():
    error, response = await run_strictly(app_sending(START, BODY))
    assert error is None
    assert (response.status_code, response.text, response.headers["content-type"]) == (200, "hello", "text/plain")


async def test_a_body_in_pieces_passes_when_the_last_piece_ends_it():
    pieces = [
        START,
        {"type": "http.response.body", "body": b"one ", "more_body": True},
        {"type": "http.response.body", "body": b"two", "more_body": False},
    ]
    error, response = await run_strictly(app_sending(*pieces))
    assert error is None and response.text == "one two"


async def test_headers_may_be_lists_of_two_bytes():
    start = {"type": "http.response.start", "status": 204, "headers": [[b"x-a", b"1"]]}
    error, response = await run_strictly(app_sending(start, {"type": "http.response.body"}))
    assert error is None and response.status_code == 204 and response.headers["x-a"] == "1"


@pytest.mark.parametrize(
    ("messages", "rule"),
    [
        ((BODY,), "http.response.body was sent before http.response.start (status and headers come first)"),
        ((START, START, BODY), "http.response.start was sent twice: send it once, then the body"),
        (({**START, "status": "200"},), "the status must be an int such as 200, got '200'"),
        (({**START, "headers": [("content-type", "text/plain")]},),
         "each header must be a pair of bytes such as (b'content-type', b'application/json'), got ('content-type', 'text/plain')"),
        (({**START, "headers": [(b"x-only-a-name",)]},), "each header must be a pair of bytes"),
        ((START, {"type": "http.response.body", "body": "hello"}), "the body must be bytes (use .encode()), got str"),
        ((START, BODY, BODY), "http.response.body was sent after the answer was complete"),
        ((START, {"type": "http.response.trailers"}), "unknown message type 'http.response.trailers'"),
        ((), "the app returned without answering: send http.response.start, then http.response.body"),
        ((START,), "the app returned before its answer was complete"),
        ((START, {**BODY, "more_body": True}), "the app returned before its answer was complete"),
    ],
    ids=["body-first", "start-twice", "str-status", "str-headers", "header-not-a-pair", "str-body",
         "after-the-end", "unknown-type", "no-answer", "no-body", "body-never-ends"],
)
async def test_each_broken_rule_raises_asgi_rule_broken_naming_it(messages, rule):
    error, response = await run_strictly(app_sending(*messages))
    assert isinstance(error, ASGIRuleBroken)
    assert rule in str(error)


async def test_the_checks_show_the_broken_rule_to_the_learner():
    _, response = await run_strictly(app_sending(START))
    assert "Your code raised ASGIRuleBroken: the app returned before its answer was complete" in describe(response)


async def test_a_broken_message_is_not_passed_on():
    sent: list[dict] = []

    async def recording_send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    checked = strict_asgi(app_sending(START, {"type": "http.response.body", "body": "text"}))
    with pytest.raises(ASGIRuleBroken):
        await checked({"type": "http"}, receive, recording_send)
    assert sent == [START]  # the start went through; the str body did not


async def test_other_scopes_pass_through_unchecked():
    seen: list[str] = []

    async def lifespan_app(scope, receive, send) -> None:
        seen.append(scope["type"])
        await send({"type": "anything at all"})

    sent: list[dict] = []

    async def send(message) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {}

    await strict_asgi(lifespan_app)({"type": "lifespan"}, receive, send)
    assert seen == ["lifespan"] and sent == [{"type": "anything at all"}]
