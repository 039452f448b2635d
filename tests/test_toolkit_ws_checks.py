"""Unit tests of coursekit.ws_checks: the checks WebSocket test cells use (notebook 05)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, WebSocket, WebSocketDisconnect

from coursekit import (
    CheckFailed,
    app_client,
    expect_closed,
    sessions_become,
    websocket,
    ws_connect,
    ws_receive,
    ws_refusal_code,
)

pytestmark = pytest.mark.anyio

SHORT = 0.1  # seconds: a wait that is meant to run out


@pytest.fixture
def anyio_backend():
    return "asyncio"


def chat_app() -> FastAPI:
    """An app with the situations the checks must tell apart."""
    app = FastAPI()
    app.state.sessions_asked = 0
    app.state.sessions_answers = [["a", "b"], ["a"], []]  # what GET /sessions lists, one answer per call

    @app.websocket("/ws/echo")
    async def echo(ws: WebSocket) -> None:
        await ws.accept()
        try:
            while True:
                text = await ws.receive_text()
                if text == "bye":
                    await ws.close(code=1000)
                    return
                if text == "raw":
                    await ws.send_text("not json")
                elif text != "quiet":
                    await ws.send_json({"echo": text})
        except WebSocketDisconnect:
            pass

    @app.websocket("/ws/private")
    async def private(ws: WebSocket) -> None:
        await ws.close(code=1008)  # refused before accept

    @app.websocket("/ws/broken")
    async def broken(ws: WebSocket) -> None:
        raise NotImplementedError("not done yet")

    @app.get("/sessions")
    async def sessions() -> dict:
        answers = app.state.sessions_answers
        listed = answers[min(app.state.sessions_asked, len(answers) - 1)]
        app.state.sessions_asked += 1
        return {"sessions": listed}

    return app


async def denying_app(scope, receive, send) -> None:
    """A raw ASGI app that answers every WebSocket handshake with HTTP 403 (the denial response)."""
    assert scope["type"] == "websocket"
    await receive()  # websocket.connect
    await send({"type": "websocket.http.response.start", "status": 403, "headers": []})
    await send({"type": "websocket.http.response.body", "body": b"go away"})


async def test_ws_connect_opens_a_connection_that_talks():
    async with app_client(chat_app()) as client:
        async with ws_connect(client, "/ws/echo") as ws:
            await ws.send_text("hi")
            assert await ws.receive_json() == {"echo": "hi"}


async def test_ws_connect_fails_with_the_close_code_and_its_meaning_when_refused():
    async with app_client(chat_app()) as client:
        with pytest.raises(CheckFailed) as info:
            async with ws_connect(client, "/ws/private"):
                pass
    message = str(info.value)
    assert "The server closed WebSocket /ws/private before accepting it (code 1008, policy violation)." in message
    assert "Hint: is the route defined with this path" in message


async def test_ws_connect_names_an_unknown_close_code_without_a_meaning():
    async def closes_with_4001(scope, receive, send) -> None:
        await receive()
        await send({"type": "websocket.close", "code": 4001})

    async with app_client(closes_with_4001, lifespan=False) as client:
        with pytest.raises(CheckFailed, match=r"before accepting it \(code 4001\)\."):
            async with ws_connect(client, "/anything"):
                pass


async def test_ws_connect_fails_when_the_handler_raises_before_accepting():
    async with app_client(chat_app()) as client:
        with pytest.raises(CheckFailed, match=r"code 1011, the handler raised an exception"):
            async with ws_connect(client, "/ws/broken"):
                pass


async def test_ws_connect_fails_with_the_http_status_of_a_denied_handshake():
    async with app_client(denying_app, lifespan=False) as client:
        with pytest.raises(CheckFailed) as info:
            async with ws_connect(client, "/ws"):
                pass
    assert "refused the WebSocket handshake for /ws with HTTP 403" in str(info.value)
    assert "Hint: 403 means the handler closed before accepting" in str(info.value)


async def test_ws_connect_sets_the_time_limit_of_receives():
    async with app_client(chat_app()) as client:
        async with ws_connect(client, "/ws/echo", timeout=SHORT) as ws:
            assert ws.timeout == SHORT


async def test_ws_refusal_code_is_the_close_code_of_a_refused_connection():
    async with app_client(chat_app()) as client:
        assert await ws_refusal_code(client, "/ws/private") == 1008
        assert await ws_refusal_code(client, "/ws/broken") == 1011


async def test_ws_refusal_code_is_none_when_the_connection_is_accepted():
    async with app_client(chat_app()) as client:
        assert await ws_refusal_code(client, "/ws/echo") is None


async def test_ws_receive_returns_the_next_json_message():
    async with app_client(chat_app()) as client:
        async with websocket(client, "/ws/echo") as ws:
            await ws.send_text("one")
            await ws.send_text("two")
            assert await ws_receive(ws, "the first echo") == {"echo": "one"}
            assert await ws_receive(ws, "the second echo") == {"echo": "two"}


async def test_ws_receive_fails_saying_what_was_expected_when_nothing_comes():
    async with app_client(chat_app()) as client:
        async with websocket(client, "/ws/echo") as ws:
            await ws.send_text("quiet")
            with pytest.raises(CheckFailed) as info:
                await ws_receive(ws, "a pong", hint="answer every ping", timeout=SHORT)
    message = str(info.value)
    assert "No message arrived on WebSocket /ws/echo within 0.1 s. Expected a pong." in message
    assert "Hint: answer every ping" in message


async def test_ws_receive_fails_when_the_message_is_not_json():
    async with app_client(chat_app()) as client:
        async with websocket(client, "/ws/echo") as ws:
            await ws.send_text("raw")
            with pytest.raises(CheckFailed) as info:
                await ws_receive(ws, "an echo")
    assert "A message on /ws/echo was not JSON; expected an echo." in str(info.value)
    assert "Hint: send with send_json(...)" in str(info.value)


async def test_ws_receive_fails_when_the_server_closes_instead():
    async with app_client(chat_app()) as client:
        async with websocket(client, "/ws/echo") as ws:
            await ws.send_text("bye")
            with pytest.raises(CheckFailed, match=r"was closed \(code 1000.*Expected a goodbye message\."):
                await ws_receive(ws, "a goodbye message")


async def test_expect_closed_passes_when_the_server_closes_with_that_code():
    async with app_client(chat_app()) as client:
        async with websocket(client, "/ws/echo") as ws:
            await ws.send_text("bye")
            assert await expect_closed(ws, 1000) is None


async def test_expect_closed_fails_with_the_hint_on_another_code():
    async with app_client(chat_app()) as client:
        async with websocket(client, "/ws/echo") as ws:
            await ws.send_text("bye")
            with pytest.raises(CheckFailed) as info:
                await expect_closed(ws, 1008, hint="close with 1008")
    assert "was closed with code 1000; expected 1008." in str(info.value)
    assert "Hint: close with 1008" in str(info.value)


async def test_expect_closed_fails_when_the_connection_stays_open():
    async with app_client(chat_app()) as client:
        async with websocket(client, "/ws/echo") as ws:
            with pytest.raises(CheckFailed, match="should have been closed within 0.1 s, but it stayed open"):
                await expect_closed(ws, 1000, timeout=SHORT)


async def test_expect_closed_fails_when_a_message_arrives_instead():
    async with app_client(chat_app()) as client:
        async with websocket(client, "/ws/echo") as ws:
            await ws.send_text("hello")
            with pytest.raises(CheckFailed, match="should have been closed, but it sent a message"):
                await expect_closed(ws, 1000)


async def test_sessions_become_asks_again_until_the_list_matches():
    app = chat_app()
    async with app_client(app) as client:
        await sessions_become(client, [])
    assert app.state.sessions_asked == 3  # ["a", "b"], then ["a"], then []: it stopped at the match


async def test_sessions_become_fails_with_the_last_list_when_it_never_matches():
    app = chat_app()
    app.state.sessions_answers = [["a"]]
    async with app_client(app) as client:
        with pytest.raises(CheckFailed) as info:
            await sessions_become(client, [], hint="forget the session", seconds=SHORT)
    assert "GET /sessions should list [] within 0.1 s, but it lists ['a']." in str(info.value)
    assert "Hint: forget the session" in str(info.value)
    assert app.state.sessions_asked >= 2  # it asked again before giving up


async def test_sessions_become_with_no_time_asks_once():
    app = chat_app()
    async with app_client(app) as client:
        with pytest.raises(CheckFailed) as info:
            await sessions_become(client, ["a"], seconds=0)
    assert "GET /sessions should list ['a'], but it lists ['a', 'b']." in str(info.value)
    assert app.state.sessions_asked == 1
