"""The WebSocket endpoints of notebooks 05 and 13, driven by a client nobody in this course wrote.

The reference solutions are served by uvicorn on real sockets (see served.py), and every test talks
to them with the third-party `websockets` library, the way a user of the finished API would. Each test
states one promise that the notebook's task statements or prose make to such a client.

Two rules keep the suite honest and fast:

- every await has a time limit (`within`, and `open_timeout` / `close_timeout` on connect), so a
  server that never answers fails a test in seconds;
- behaviour is proven by counting frames and by protocol facts (close codes, HTTP statuses, the
  order of frames on one TCP connection), never by how long something took.

The in-kernel state a real client cannot see (the fake model's counters, the API tokens handed out
by the operator) is read through a small "probe" app served from the same kernel.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, ConnectionClosedError, ConnectionClosedOK, InvalidStatus

from coursekit import FakeLLM, count_tokens
from served import served

pytestmark = pytest.mark.xdist_group("conformance-websockets")

WAIT = 3.0  # seconds: the longest any single step may take

# Runs first in the serving kernel: a probe app that shows a client what it cannot see from outside
# (the fake models' counters, the API tokens an operator would hand out), and arms model failures.
PROBE_PRELUDE = '''
def _probe_app(llms, api_tokens=None):
    from fastapi import FastAPI

    probe = FastAPI(title="conformance probe")

    @probe.get("/llm/{name}")
    async def llm_counters(name: str) -> dict:
        return llms[name].stats()

    @probe.post("/llm/{name}/reset")
    async def llm_reset(name: str) -> dict:
        llms[name].reset()
        return llms[name].stats()

    @probe.post("/llm/{name}/fail")
    async def llm_fail(name: str, kind: str = "rate_limit", after_tokens: int = 0) -> dict:
        llms[name].fail_next(kind, after_tokens=after_tokens)
        return {"armed": kind}

    @probe.get("/api-tokens")
    async def tokens() -> dict:
        return {user: token for token, user in (api_tokens or {}).items()}

    return probe


_LLMS = {}


def _remember(name, llm):
    _LLMS[name] = llm
    return llm
'''

# The fake model is deterministic: the same script gives the client the tokens to expect.
MODEL = FakeLLM()


# -- small client helpers ----------------------------------------------------------------------


async def within(awaitable: Awaitable[Any], what: str, seconds: float = WAIT) -> Any:
    try:
        async with asyncio.timeout(seconds):
            return await awaitable
    except TimeoutError:
        raise AssertionError(f"waited {seconds:g} s for {what}") from None


def run(coroutine: Awaitable[Any]) -> Any:
    """Run one test's client code (pytest-asyncio is not installed); the whole test has a time limit."""
    async def bounded() -> Any:
        async with asyncio.timeout(15):
            return await coroutine
    return asyncio.run(bounded())


def ws_url(base: str, path: str) -> str:
    return base.replace("http://", "ws://", 1) + path


@asynccontextmanager
async def socket(base: str, path: str, **options: Any):
    """A WebSocket opened by the `websockets` client; keepalive pings off unless asked for."""
    options.setdefault("ping_interval", None)
    async with connect(ws_url(base, path), open_timeout=WAIT, close_timeout=1, **options) as ws:
        yield ws


async def receive_json(ws: ClientConnection, what: str) -> Any:
    frame = await within(ws.recv(), what)
    assert isinstance(frame, str), f"{what}: expected a JSON text frame, got a binary frame {frame!r}"
    return json.loads(frame)


async def send_json(ws: ClientConnection, message: Any) -> None:
    await within(ws.send(json.dumps(message)), f"sending {message!r}")


async def closed_by_server(ws: ClientConnection, what: str) -> ConnectionClosed:
    """Read until the server ends the connection; fail if a data frame arrives first."""
    try:
        frame = await within(ws.recv(), what)
    except ConnectionClosed as closed:
        return closed
    raise AssertionError(f"{what}: expected the connection to end, got the frame {frame!r}")


def close_code(closed: ConnectionClosed) -> int:
    """The code of the close frame the server sent; 1006 when the connection dropped without one."""
    return 1006 if closed.rcvd is None else closed.rcvd.code


async def refused_status(base: str, path: str) -> int | None:
    """The HTTP status of a refused handshake; None when the server accepts the WebSocket."""
    try:
        async with socket(base, path):
            return None
    except InvalidStatus as refused:
        return refused.response.status_code


async def get_json(base: str, path: str) -> Any:
    async with httpx.AsyncClient(base_url=base, timeout=WAIT) as client:
        response = await client.get(path)
        response.raise_for_status()
        return response.json()


async def post_json(base: str, path: str, **kwargs: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base, timeout=WAIT) as client:
        return await client.post(path, **kwargs)


async def sessions_become(base: str, expected: list[str], what: str, seconds: float = WAIT) -> None:
    """Poll GET /sessions until it lists `expected` (a handler cleans up just after its client leaves)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        listed = (await get_json(base, "/sessions"))["sessions"]
        if listed == expected:
            return
        assert loop.time() < deadline, f"{what}: GET /sessions should list {expected} within {seconds:g} s, it lists {listed}"
        await asyncio.sleep(0.02)


async def sessions_stay(base: str, expected: list[str], what: str, checks: int = 10) -> None:
    """GET /sessions lists `expected` at every one of `checks` looks, 20 ms apart."""
    for _ in range(checks):
        listed = (await get_json(base, "/sessions"))["sessions"]
        assert listed == expected, f"{what}: GET /sessions should keep listing {expected}, it lists {listed}"
        await asyncio.sleep(0.02)


# =============================================================================================
# Notebook 05: WebSockets
# =============================================================================================

NB05_APPS = {
    "protocol": "protocol_app",
    "stream": "stream_app",
    "secure": "secure_app",
    "robust": "robust_app",
    "room": "room_app",
    "chat": "chat_app",
    "heartbeat": "create_heartbeat_app(ping_interval=0.1, idle_timeout=0.5)",
    "probe": '_probe_app({"stream": stream_llm, "robust": robust_llm, "cleanup": cleanup_llm}, API_TOKENS)',
}
PING_INTERVAL, IDLE_TIMEOUT, IDLE_CLOSE_CODE = 0.1, 0.5, 4408


@pytest.fixture(scope="module")
def nb05() -> dict[str, str]:
    with served("05_websockets", NB05_APPS, prelude=PROBE_PRELUDE) as urls:
        yield urls


# -- Exercise 1: a small JSON protocol --------------------------------------------------------


def test_ex1_each_message_is_answered_in_order_and_bye_closes_with_1000(nb05):
    async def scenario() -> None:
        async with socket(nb05["protocol"], "/ws/tokens") as ws:
            texts = ["WebSockets keep one connection open.", "", "a, b, c!"]
            for text in texts:  # sent all at once: the answers come back in the same order
                await send_json(ws, {"type": "count", "text": text})
            await send_json(ws, {"type": "ping"})
            for text in texts:
                reply = await receive_json(ws, f"the count for {text!r}")
                assert reply == {"type": "count", "tokens": count_tokens(text)}, f"count of {text!r}: got {reply!r}"
            assert await receive_json(ws, "the pong") == {"type": "pong"}, "a ping is answered with a pong"
            await send_json(ws, {"type": "bye"})
            closed = await closed_by_server(ws, "the close after bye")
            assert isinstance(closed, ConnectionClosedOK) and close_code(closed) == 1000, (
                f"bye gets no message, only a normal closure (1000): got code {close_code(closed)}")
        async with socket(nb05["protocol"], "/ws/tokens") as ws:  # a new connection after a bye
            await send_json(ws, {"type": "ping"})
            assert await receive_json(ws, "a pong on a new connection") == {"type": "pong"}

    run(scenario())


# -- Exercise 2: streamed tokens ----------------------------------------------------------------


async def read_answer(ws: ClientConnection, prompt: str) -> tuple[list[str], Any]:
    """The token frames of one answer, and the frame that ended it."""
    tokens = []
    while (frame := await receive_json(ws, f"a token or done frame for {prompt!r}")).get("type") == "token":
        tokens.append(frame["content"])
    return tokens, frame


def test_ex2_tokens_arrive_one_frame_each_while_the_model_still_generates(nb05):
    async def scenario() -> None:
        await post_json(nb05["probe"], "/llm/stream/reset")
        prompt = "Tell me about async"
        wanted = MODEL.tokens_for(prompt)
        assert len(wanted) >= 10, "the check below needs a long answer"
        async with socket(nb05["stream"], "/ws/generate") as ws:
            await send_json(ws, {"type": "prompt", "text": prompt})
            first = await receive_json(ws, "the first token frame")
            active = (await within(get_json(nb05["probe"], "/llm/stream"), "the probe"))["active"]
            assert first == {"type": "token", "content": wanted[0]}, f"first frame: got {first!r}"
            assert active == 1, "the first token reached the client after the model had finished: the answer was not streamed"
            tokens, done = await read_answer(ws, prompt)
            assert [first["content"], *tokens] == wanted, "one frame per model token, in order"
            assert done == {"type": "done", "tokens": len(wanted)}, f"done counts the token frames: got {done!r}"
            for text, limit in [("hello", 1), ("What is a websocket?", 0), ("How do I reset my password?", None)]:
                message = {"type": "prompt", "text": text} | ({} if limit is None else {"max_tokens": limit})
                await send_json(ws, message)
                tokens, done = await read_answer(ws, text)
                assert tokens == MODEL.tokens_for(text, limit), f"tokens for {message}"
                assert done == {"type": "done", "tokens": len(tokens)}, f"done for {message}: got {done!r}"
        counters = await get_json(nb05["probe"], "/llm/stream")
        assert counters["calls"] == 4, f"four prompts make four model calls, the model counted {counters['calls']}"

    run(scenario())


# -- Exercise 3: refused before accept -----------------------------------------------------------


def test_ex3_a_bad_token_is_refused_with_http_403_before_any_websocket_frame(nb05):
    async def scenario() -> None:
        alice = (await get_json(nb05["probe"], "/api-tokens"))["alice"]
        for path, what in [("/ws/secure", "no token"), ("/ws/secure?token=", "an empty token"),
                           ("/ws/secure?token=not-a-real-token", "an unknown token"),
                           (f"/ws/secure?token={alice}x", "alice's token with one character more")]:
            status = await refused_status(nb05["secure"], path)
            # The notebook: a close(1008) before accept makes a real server answer the upgrade with 403.
            assert status == 403, f"{what}: the handshake should be refused with HTTP 403, got {status or 'a connection'}"

    run(scenario())


def test_ex3_a_valid_token_is_welcomed_and_each_connection_keeps_its_own_user(nb05):
    async def scenario() -> None:
        tokens = await get_json(nb05["probe"], "/api-tokens")
        async with socket(nb05["secure"], f"/ws/secure?token={tokens['alice']}") as alice, \
                socket(nb05["secure"], f"/ws/secure?token={tokens['bob']}") as bob:
            assert await receive_json(alice, "alice's welcome") == {"type": "welcome", "user": "alice"}
            assert await receive_json(bob, "bob's welcome") == {"type": "welcome", "user": "bob"}
            for name, ws in [("bob", bob), ("alice", alice)]:
                await send_json(ws, {"type": "whoami"})
                assert await receive_json(ws, f"{name}'s whoami") == {"type": "user", "user": name}

    run(scenario())


# -- Exercise 4: error frames, and the connection stays open -------------------------------------


async def expect_error(ws: ClientConnection, frame: str | bytes, code: str, **extra: Any) -> None:
    await within(ws.send(frame), f"sending {frame!r}")
    reply = await receive_json(ws, f"an error frame for {frame!r}")
    wanted = {"type": "error", "code": code, **extra}
    assert {key: reply.get(key) for key in wanted} == wanted, f"for {frame!r} expected an error with {wanted}, got {reply!r}"


def test_ex4_malformed_messages_get_error_frames_and_the_connection_stays_open(nb05):
    async def scenario() -> None:
        await post_json(nb05["probe"], "/llm/robust/reset")
        async with socket(nb05["robust"], "/ws/assistant") as ws:
            for frame in ["{not json", "", "{'single': 'quotes'}"]:
                await expect_error(ws, frame, "invalid_json")
            await expect_error(ws, b'{"type": "ping"}', "invalid_json")  # a binary frame: JSON travels in text frames
            for frame in ["[1, 2]", "42", "null", "{}", '{"type": "dance"}', '{"type": 7}', '{"type": "PROMPT", "text": "hi"}']:
                await expect_error(ws, frame, "unknown_type")
            for prompt in [{"type": "prompt"}, {"type": "prompt", "text": ""}, {"type": "prompt", "text": 42}]:
                await expect_error(ws, json.dumps(prompt), "invalid_field", field="text")
            assert (await get_json(nb05["probe"], "/llm/robust"))["calls"] == 0, "invalid prompts must not reach the model"
            await send_json(ws, {"type": "prompt", "text": "How do I get a refund?"})
            reply = await receive_json(ws, "the reply after 14 bad frames")
            assert reply == {"type": "reply", "text": MODEL.reply_for("How do I get a refund?")}, f"got {reply!r}"

    run(scenario())


DEEP_JSON = "[" * 100_000 + "]" * 100_000  # valid JSON; Python's json module raises RecursionError on it
HUGE_NUMBER = "1" * 5_000  # valid JSON; json.loads raises ValueError (int digits limit), not JSONDecodeError


def test_ex4_json_the_parser_cannot_handle_gets_an_error_frame_not_a_dropped_connection(nb05):
    """The task: "Whatever a message holds, the connection stays open." Two valid JSON texts make
    `json.loads` raise something other than JSONDecodeError; either error code is a fair answer."""
    async def scenario() -> None:
        async with socket(nb05["robust"], "/ws/assistant") as ws:
            for frame, what in [(DEEP_JSON, "100 000 nested arrays"), (HUGE_NUMBER, "a 5 000-digit number"),
                                ('{"type": "ping", "n": %s}' % HUGE_NUMBER, "a ping with a 5 000-digit number")]:
                await within(ws.send(frame), f"sending {what}")
                try:
                    reply = await receive_json(ws, f"the answer to {what}")
                except ConnectionClosed as closed:
                    raise AssertionError(f"{what} ended the connection (code {close_code(closed)}): "
                                         "a bad message must get an error frame") from None
                assert reply == {"type": "pong"} or (reply.get("type") == "error" and reply.get("code") in ("invalid_json", "unknown_type")), (
                    f"{what}: expected an invalid_json or unknown_type error frame, got {reply!r}")
            await send_json(ws, {"type": "ping"})
            assert await receive_json(ws, "a pong after them") == {"type": "pong"}, "the connection stays open"

    run(scenario())


def test_ex4_a_message_fragmented_over_several_frames_is_one_message(nb05):
    async def scenario() -> None:
        async with socket(nb05["robust"], "/ws/assistant") as ws:
            await within(ws.send(['{"type": ', '"ping"}']), "sending a fragmented message")
            assert await receive_json(ws, "the pong") == {"type": "pong"}, "a fragmented text message is read whole"

    run(scenario())


def test_ex4_lone_surrogates_never_end_the_connection(nb05):
    """A lone surrogate ("\\ud800") is valid JSON (an escape) but not encodable as UTF-8.

    - As a JSON escape it reaches the app: the reply or an invalid_field error, and the connection stays.
    - As the character itself it cannot be put in a text frame at all: the client library refuses to
      encode it before anything is sent (websockets drops its own connection, because of a UnicodeEncodeError).
    - Its raw bytes (b"\\xed\\xa0\\x80", surrogatepass) in a text frame are not UTF-8. RFC 6455, 8.1: the
      receiver of a text frame that is not valid UTF-8 MUST fail the connection; close code 1007
      (invalid frame payload data, 7.4.1). That is the WebSocket layer (uvicorn), not the app, so the
      notebook's "never close because of a bad message" is about messages the app receives: here the
      promise a client gets is the RFC's, a close with 1007, not a silent drop.
    """
    async def scenario() -> None:
        async with socket(nb05["robust"], "/ws/assistant") as ws:
            escaped = '{"type": "prompt", "text": "\\ud800"}'
            await within(ws.send(escaped), "sending an escaped lone surrogate")
            reply = await receive_json(ws, "the answer to an escaped lone surrogate")
            as_error = {key: reply.get(key) for key in ("type", "code", "field")}
            assert reply == {"type": "reply", "text": MODEL.reply_for("\ud800")} or \
                as_error == {"type": "error", "code": "invalid_field", "field": "text"}, f"got {reply!r}"
            await send_json(ws, {"type": "ping"})
            assert await receive_json(ws, "a pong after the surrogate") == {"type": "pong"}, "the connection stays open"

            raw = '{"type": "prompt", "text": "\ud800"}'.encode("utf-8", "surrogatepass")
            await within(ws.send(raw, text=True), "sending a text frame that is not UTF-8")
            closed = await closed_by_server(ws, "the server's answer to invalid UTF-8 in a text frame")
            assert close_code(closed) == 1007, (
                f"RFC 6455 8.1: a text frame that is not UTF-8 fails the connection with 1007, got {close_code(closed)}")
        async with socket(nb05["robust"], "/ws/assistant") as ws:
            with pytest.raises(ConnectionClosedError) as refused:  # the client library refuses, and drops its connection
                await ws.send('{"type": "prompt", "text": "\ud800"}')
            assert isinstance(refused.value.__cause__, UnicodeEncodeError), "websockets cannot encode a lone surrogate"
        async with socket(nb05["robust"], "/ws/assistant") as ws:  # the server is fine afterwards
            await send_json(ws, {"type": "ping"})
            assert await receive_json(ws, "a pong on a new connection") == {"type": "pong"}

    run(scenario())


# -- Exercise 5: a connection manager with broadcast ---------------------------------------------


def test_ex5_a_broadcast_reaches_every_real_client_and_a_whisper_only_one(nb05):
    async def scenario() -> None:
        room = nb05["room"]
        async with socket(room, "/ws/room/ann") as ann, socket(room, "/ws/room/bob") as bob, \
                socket(room, "/ws/room/cy") as cy:
            await sessions_become(room, ["ann", "bob", "cy"], "three clients connected")
            await send_json(ann, {"type": "say", "text": "hello room"})
            for name, ws in [("ann", ann), ("bob", bob), ("cy", cy)]:
                got = await receive_json(ws, f"ann's broadcast at {name}")
                assert got == {"type": "message", "from": "ann", "text": "hello room"}, f"{name} got {got!r}"
            await send_json(bob, {"type": "whisper", "to": "cy", "text": "psst"})
            assert await receive_json(cy, "bob's whisper") == {"type": "whisper", "from": "bob", "text": "psst"}
            await send_json(cy, {"type": "say", "text": "after the whisper"})
            for name, ws in [("ann", ann), ("bob", bob)]:  # their next frame is cy's broadcast: the whisper was not theirs
                got = await receive_json(ws, f"cy's broadcast at {name}")
                assert got == {"type": "message", "from": "cy", "text": "after the whisper"}, f"{name} got {got!r}"
            await receive_json(cy, "cy's own broadcast")
            await send_json(ann, {"type": "whisper", "to": "nobody", "text": "hi?"})
            got = await receive_json(ann, "the refusal of a whisper to nobody")
            assert got == {"type": "error", "code": "not_connected", "to": "nobody"}, f"got {got!r}"
        await sessions_become(room, [], "every client left")

    run(scenario())


def test_ex5_a_second_tab_of_a_session_replaces_the_first_and_survives_its_close(nb05):
    async def scenario() -> None:
        room = nb05["room"]
        async with socket(room, "/ws/room/eve") as eve:
            old_tab = await within(connect(ws_url(room, "/ws/room/dup"), open_timeout=WAIT, close_timeout=1,
                                           ping_interval=None), "the old tab")
            try:
                async with socket(room, "/ws/room/dup") as new_tab:
                    await sessions_become(room, ["dup", "eve"], "two tabs of dup: one session")
                    await send_json(eve, {"type": "say", "text": "to everyone"})
                    for name, ws in [("eve", eve), ("the new tab", new_tab)]:
                        got = await receive_json(ws, f"eve's broadcast at {name}")
                        assert got == {"type": "message", "from": "eve", "text": "to everyone"}, f"{name} got {got!r}"
                    # On one TCP connection frames arrive in order: had the broadcast reached the old tab,
                    # it would come before this answer.
                    await send_json(old_tab, {"type": "whisper", "to": "nobody", "text": "am I in?"})
                    got = await receive_json(old_tab, "the old tab's next frame")
                    assert got == {"type": "error", "code": "not_connected", "to": "nobody"}, (
                        f"the replaced tab should no longer receive broadcasts; its next frame was {got!r}")
                    await within(old_tab.close(), "closing the old tab")
                    await sessions_stay(room, ["dup", "eve"], "the old tab closed, the new tab is still open")
                    await send_json(eve, {"type": "whisper", "to": "dup", "text": "still there?"})
                    got = await receive_json(new_tab, "a whisper to dup after the old tab closed")
                    assert got == {"type": "whisper", "from": "eve", "text": "still there?"}, f"got {got!r}"
            finally:
                await within(old_tab.close(), "closing the old tab")
        await sessions_become(room, [], "every tab closed")

    run(scenario())


# -- Exercise 6: cleanup however the connection ends ----------------------------------------------


def test_ex6_a_session_is_forgotten_however_its_connection_ends(nb05):
    async def scenario() -> None:
        chat = nb05["chat"]
        async with socket(chat, "/ws/chat/polite") as ws:
            await sessions_become(chat, ["polite"], "a connected session")
            await send_json(ws, {"type": "prompt", "text": "hello"})
            tokens, done = await read_answer(ws, "hello")
            assert tokens == MODEL.tokens_for("hello") and done == {"type": "done"}, f"got {tokens}, {done!r}"
        await sessions_become(chat, [], "a client that closed normally between answers")

        async with socket(chat, "/ws/chat/mid-answer") as ws:
            await send_json(ws, {"type": "prompt", "text": "Tell me about streaming"})
            await receive_json(ws, "a first token")
        await sessions_become(chat, [], "a client that closed in the middle of an answer")

        ws = await within(connect(ws_url(chat, "/ws/chat/tab-closed"), open_timeout=WAIT, close_timeout=1,
                                  ping_interval=None), "connecting")
        await sessions_become(chat, ["tab-closed"], "a connected session")
        await within(ws.close(code=1001), "closing with 1001 (going away)")
        await sessions_become(chat, [], "a client that left with 1001 (a closed tab)")

        ws = await within(connect(ws_url(chat, "/ws/chat/cut"), open_timeout=WAIT, close_timeout=1,
                                  ping_interval=None), "connecting")
        await send_json(ws, {"type": "prompt", "text": "Tell me about streaming"})
        await receive_json(ws, "a first token")
        ws.transport.abort()  # the network dies: no close frame, the TCP connection is reset
        await sessions_become(chat, [], "a client whose connection was cut without a close frame")

    run(scenario())


def test_ex6_a_failing_model_drops_the_connection_and_the_session_is_forgotten(nb05):
    async def scenario() -> None:
        chat = nb05["chat"]
        armed = await post_json(nb05["probe"], "/llm/cleanup/fail", params={"kind": "rate_limit", "after_tokens": 2})
        assert armed.status_code == 200
        async with socket(chat, "/ws/chat/failing") as ws:
            await send_json(ws, {"type": "prompt", "text": "hello"})
            for n in (1, 2):
                assert (await receive_json(ws, f"token {n}"))["type"] == "token"
            closed = await closed_by_server(ws, "the end of the connection after the model failed")
            # The notebook: Uvicorn drops the connection without a close frame, which a client reports as 1006.
            assert closed.rcvd is None and close_code(closed) == 1006, (
                f"an exception that ends the handler: no close frame (1006), got {closed.rcvd}")
        await sessions_become(chat, [], "a session whose handler ended with the model's exception")

    run(scenario())


def test_ex6_an_old_tab_that_closes_leaves_the_new_tab_registered(nb05):
    async def scenario() -> None:
        chat = nb05["chat"]
        old_tab = await within(connect(ws_url(chat, "/ws/chat/tab"), open_timeout=WAIT, close_timeout=1,
                                       ping_interval=None), "the old tab")
        try:
            await sessions_become(chat, ["tab"], "the old tab connected")
            async with socket(chat, "/ws/chat/tab") as new_tab:
                await within(old_tab.close(), "closing the old tab")
                await sessions_stay(chat, ["tab"], "the old tab closed after a new tab took over")
                await send_json(new_tab, {"type": "prompt", "text": "hello"})
                tokens, _ = await read_answer(new_tab, "hello")
                assert tokens == MODEL.tokens_for("hello"), "the new tab is still served"
        finally:
            await within(old_tab.close(), "closing the old tab")
        await sessions_become(chat, [], "both tabs closed")

    run(scenario())


# -- Exercise 7: heartbeats and the idle timeout ---------------------------------------------------


async def pings_until_closed(ws: ClientConnection) -> tuple[int, ConnectionClosed]:
    """Stay silent; count the server's app-level pings until it closes the connection."""
    pings = 0
    while True:
        try:
            frame = await within(ws.recv(), "a ping or the idle close", seconds=10 * IDLE_TIMEOUT)
        except ConnectionClosed as closed:
            return pings, closed
        assert json.loads(frame) == {"type": "ping"}, f"a silent client receives only pings, got {frame!r}"
        pings += 1


def test_ex7_a_silent_client_gets_pings_then_an_idle_close_with_4408(nb05):
    async def scenario() -> None:
        async with socket(nb05["heartbeat"], "/ws/live") as ws:
            pings, closed = await pings_until_closed(ws)
        assert close_code(closed) == IDLE_CLOSE_CODE, f"an idle client is closed with 4408, got {close_code(closed)}"
        most = round(IDLE_TIMEOUT / PING_INTERVAL) + 1
        assert 2 <= pings <= most, f"ping_interval=0.1, idle_timeout=0.5: between 2 and {most} pings, got {pings}"

    run(scenario())


def test_ex7_protocol_level_pings_are_not_messages_and_do_not_keep_a_client_alive(nb05):
    """The client library's own keepalive pings are control frames: uvicorn answers them with pongs
    and the app never sees them, so they are not the "client messages" the idle timeout counts."""
    async def scenario() -> None:
        async with socket(nb05["heartbeat"], "/ws/live", ping_interval=PING_INTERVAL / 2, ping_timeout=WAIT) as ws:
            pings, closed = await pings_until_closed(ws)
        assert close_code(closed) == IDLE_CLOSE_CODE, (
            f"a client that only sends protocol pings is idle: closed with 4408, got {close_code(closed)}")
        assert pings >= 2, f"it still received the app's pings first, got {pings}"

    run(scenario())


def test_ex7_a_client_that_answers_pings_with_pongs_stays_connected(nb05):
    async def scenario() -> None:
        async with socket(nb05["heartbeat"], "/ws/live") as ws:
            for n in range(2 * round(IDLE_TIMEOUT / PING_INTERVAL)):  # two idle timeouts' worth of pings
                ping = await receive_json(ws, f"ping {n + 1}")
                assert ping == {"type": "ping"}, f"expected a ping, got {ping!r}"
                await send_json(ws, {"type": "pong"})
            await send_json(ws, {"type": "echo", "text": "still here"})
            while (reply := await receive_json(ws, "the echo")) == {"type": "ping"}:
                pass
            assert reply == {"type": "echo", "text": "still here"}, f"got {reply!r}"

    run(scenario())


# =============================================================================================
# Notebook 13: the capstone's WebSocket, /api/v1/ws/chat?token=...
# =============================================================================================

WS13 = "/api/v1/ws/chat"
NB13_RATE_LIMIT = 3
NB13_APPS = {
    "api": ("build_app(test_settings(rate_limit=%d), Parts(tokens=JWTTokens, auth=auth_router, websocket=ws_router, "
            "limiter=RateLimiter), llm=_remember('capstone', FakeLLM()), hasher=FAST_HASHER)" % NB13_RATE_LIMIT),
    "probe": "_probe_app(_LLMS)",
}


@pytest.fixture(scope="module")
def nb13() -> dict[str, str]:
    with served("13_capstone", NB13_APPS, prelude=PROBE_PRELUDE) as urls:
        yield urls


_accounts = iter(range(1000))


async def new_user_token(api: str) -> str:
    """Sign up a fresh user and log in, as a client of the API does; return the access token."""
    username, password = f"wsclient_{next(_accounts)}", "a long passphrase"
    async with httpx.AsyncClient(base_url=api, timeout=WAIT) as client:
        registered = await client.post("/api/v1/auth/register", json={"username": username, "password": password})
        assert registered.status_code == 201, f"register: {registered.status_code} {registered.text}"
        login = await client.post("/api/v1/auth/token", data={"username": username, "password": password})
        assert login.status_code == 200, f"login: {login.status_code} {login.text}"
        return login.json()["access_token"]


async def chat_turn(ws: ClientConnection, frame: str | bytes, what: str) -> list[dict]:
    """Send one frame; read the frames of its reply, up to and including a done or error frame."""
    await within(ws.send(frame), f"sending {what}")
    frames = []
    while len(frames) < 300:
        frames.append(await receive_json(ws, f"the reply to {what}"))
        if frames[-1].get("type") in ("done", "error"):
            return frames
    raise AssertionError(f"{what}: 300 frames without a done or error frame")


def assert_reply(frames: list[dict], prompt: str) -> None:
    wanted = MODEL.tokens_for(prompt)
    assert frames == [{"type": "token", "content": token} for token in wanted] + [{"type": "done", "tokens": len(wanted)}], (
        f"for {prompt!r}: one token frame per model token, then done with the count; got {frames[:3]} ... {frames[-1:]}")


def assert_one_error(frames: list[dict], what: str) -> dict:
    assert len(frames) == 1 and frames[0].get("type") == "error" and frames[0].get("detail"), (
        f"{what}: expected one frame {{'type': 'error', 'detail': ...}}, got {frames}")
    return frames[0]


def test_capstone_refuses_a_missing_or_invalid_token_with_http_403(nb13):
    async def scenario() -> None:
        token = await new_user_token(nb13["api"])
        for query, what in [("", "no token"), ("?token=", "an empty token"), ("?token=not.a.jwt", "a made-up token"),
                            (f"?token={token[:-2]}", "a token with a damaged signature")]:
            status = await refused_status(nb13["api"], WS13 + query)
            assert status == 403, f"{what}: close(1008) before accept is refused by a real server with 403, got {status or 'a connection'}"

    run(scenario())


def test_capstone_a_chat_turn_streams_tokens_then_done_and_bad_frames_get_error_frames(nb13):
    async def scenario() -> None:
        api = nb13["api"]
        token = await new_user_token(api)
        async with socket(api, f"{WS13}?token={token}") as ws:
            assert_reply(await chat_turn(ws, json.dumps({"message": "Tell me a joke"}), "a message"), "Tell me a joke")
            bad_frames = ["this is not JSON", "[]", "{}", json.dumps({"message": 42}), json.dumps({"message": "   "}),
                          json.dumps({"message": "hi", "session_id": "s1"}), json.dumps({"message": "hi", "conversation_id": 2 ** 63}),
                          DEEP_JSON, '{"message": "hi", "conversation_id": %s}' % HUGE_NUMBER, b'{"message": "a binary frame"}']
            for frame in bad_frames:
                assert_one_error(await chat_turn(ws, frame, f"the bad frame {frame!r}"), f"the bad frame {frame!r}")
            escaped = await chat_turn(ws, '{"message": "\\ud800"}', "an escaped lone surrogate")
            assert escaped[-1].get("type") in ("done", "error"), f"got {escaped}"
            assert_reply(await chat_turn(ws, json.dumps({"message": " What is ASGI? ", "conversation_id": 5}),
                                         "a message after the bad frames"), "What is ASGI?")

    run(scenario())


def test_capstone_a_model_failure_is_an_error_frame_and_the_connection_stays_open(nb13):
    async def scenario() -> None:
        api, probe = nb13["api"], nb13["probe"]
        token = await new_user_token(api)
        async with socket(api, f"{WS13}?token={token}") as ws:
            await post_json(probe, "/llm/capstone/fail", params={"kind": "rate_limit", "after_tokens": 2})
            frames = await chat_turn(ws, json.dumps({"message": "Tell me a joke"}), "a message the model fails on")
            assert [frame.get("type") for frame in frames] == ["token", "token", "error"], (
                f"a model failure after 2 tokens: 2 token frames, then an error frame; got {frames}")
            await post_json(probe, "/llm/capstone/fail", params={"kind": "timeout"})
            assert_one_error(await chat_turn(ws, json.dumps({"message": "hello"}), "a message that times out"), "a timeout")
            assert_reply(await chat_turn(ws, json.dumps({"message": "hello"}), "the next message"), "hello")

    run(scenario())


def test_capstone_each_valid_message_counts_against_the_rate_limit(nb13):
    async def scenario() -> None:
        api, probe = nb13["api"], nb13["probe"]
        token = await new_user_token(api)
        async with socket(api, f"{WS13}?token={token}") as ws:
            assert_one_error(await chat_turn(ws, "not JSON", "a bad frame"), "a bad frame")  # refused frames do not count
            for n in range(NB13_RATE_LIMIT):
                assert_reply(await chat_turn(ws, json.dumps({"message": "hello"}), f"message {n + 1}"), "hello")
            calls = (await get_json(probe, "/llm/capstone"))["calls"]
            refused = assert_one_error(await chat_turn(ws, json.dumps({"message": "hello"}), "one message too many"),
                                       "over the limit")
            retry_after = refused.get("retry_after")
            assert isinstance(retry_after, int) and 1 <= retry_after <= 60, (
                f"over the limit, retry_after is the wait in whole seconds (window 60 s), got {retry_after!r}")
            assert (await get_json(probe, "/llm/capstone"))["calls"] == calls, "over the limit, the model is not called"
        other = await new_user_token(api)  # the limit is per user
        async with socket(api, f"{WS13}?token={other}") as ws:
            assert_reply(await chat_turn(ws, json.dumps({"message": "hello"}), "another user's message"), "hello")

    run(scenario())


def test_capstone_a_client_that_leaves_mid_answer_does_not_break_the_server(nb13):
    async def scenario() -> None:
        api = nb13["api"]
        token = await new_user_token(api)
        async with socket(api, f"{WS13}?token={token}") as ws:
            await within(ws.send(json.dumps({"message": "Tell me about streaming"})), "sending")
            await receive_json(ws, "a first token")
        ws = await within(connect(ws_url(api, f"{WS13}?token={token}"), open_timeout=WAIT, close_timeout=1,
                                  ping_interval=None), "connecting")
        await within(ws.send(json.dumps({"message": "Tell me about streaming"})), "sending")
        await receive_json(ws, "a first token")
        ws.transport.abort()
        async with socket(api, f"{WS13}?token={token}") as ws:
            assert_reply(await chat_turn(ws, json.dumps({"message": "hello"}), "a message on a new connection"), "hello")

    run(scenario())
