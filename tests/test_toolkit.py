"""Unit tests of coursekit, the in-kernel toolkit."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import FastAPI, HTTPException, Query, WebSocket
from fastapi.responses import StreamingResponse
from httpx_ws import WebSocketDisconnect

import coursekit
from coursekit import (
    CheckFailed,
    FakeLLM,
    RateLimitError,
    UpstreamTimeout,
    app_client,
    eventually,
    expect,
    expect_json,
    expect_keys,
    expect_status,
    poll,
    read_sse,
    serve,
    sse_stream,
    websocket,
    within,
)

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def anyio_backend():
    return "asyncio"


def small_app() -> FastAPI:
    events: list[str] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        events.append("startup")
        app.state.greeting = "hello"
        yield
        events.append("shutdown")

    app = FastAPI(lifespan=lifespan)
    app.state.events = events

    @app.get("/greet")
    async def greet(name: Annotated[str, Query(min_length=1)]):
        return {"message": f"{app.state.greeting}, {name}"}

    @app.get("/missing")
    async def missing():
        raise HTTPException(status_code=404, detail="nothing here")

    @app.get("/todo")
    async def todo():
        raise NotImplementedError("replace this line with your solution")

    @app.get("/slow")
    async def slow():
        await asyncio.sleep(60)

    @app.websocket("/ws")
    async def echo(ws: WebSocket):
        await ws.accept()
        while True:
            message = await ws.receive_json()
            if message.get("type") == "bye":
                await ws.close(code=1000)
                return
            await ws.send_json({"echo": message})

    @app.websocket("/private")
    async def private(ws: WebSocket):
        await ws.close(code=1008)

    return app


# -- data ---------------------------------------------------------------------------
def test_data_dir_is_found_from_any_working_directory(tmp_path):
    code = "import coursekit; print(coursekit.data_dir())"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert Path(out) == REPO / "data"


def test_data_dir_can_be_set_by_environment(tmp_path):
    (tmp_path / "COURSE_DATA").write_text("")
    (tmp_path / "x.json").write_text('{"a": 1}')
    code = "import coursekit; print(coursekit.load_json('x.json'))"
    env = {**os.environ, "COURSE_DATA_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "{'a': 1}"


def test_missing_data_file_lists_what_exists():
    with pytest.raises(FileNotFoundError, match="fake_llm.json"):
        coursekit.data_path("no_such_file.json")


# -- in-process client ------------------------------------------------------------------
async def test_app_client_runs_lifespan_around_requests():
    app = small_app()
    async with app_client(app) as client:
        assert app.state.events == ["startup"]
        r = await client.get("/greet", params={"name": "Ada"})
        expect_status(r, 200)
        expect_json(r, {"message": "hello, Ada"})
    assert app.state.events == ["startup", "shutdown"]


async def test_expect_status_failure_names_request_status_and_body():
    async with app_client(small_app()) as client:
        r = await client.get("/missing")
    with pytest.raises(CheckFailed) as info:
        expect_status(r, 200, hint="look at the route")
    message = str(info.value)
    assert "GET /missing should answer 200, but it answered 404" in message
    assert "response: 404 Not Found" in message
    assert "nothing here" in message
    assert "Hint: look at the route" in message


async def test_app_exception_becomes_500_with_the_exception_in_the_message():
    async with app_client(small_app()) as client:
        r = await client.get("/todo")
    assert r.status_code == 500
    with pytest.raises(CheckFailed, match="NotImplementedError: this exercise is not done yet"):
        expect_status(r, 200)


async def test_hanging_endpoint_fails_within_the_timeout():
    start = time.monotonic()
    async with app_client(small_app(), timeout=0.3) as client:
        with pytest.raises(CheckFailed, match="GET /slow got no answer within 0.3 s"):
            await client.get("/slow")
    assert time.monotonic() - start < 3


async def test_validation_error_is_a_422():
    async with app_client(small_app()) as client:
        r = await client.get("/greet", params={"name": ""})
    expect_status(r, 422)


async def test_bare_asgi_app_without_lifespan():
    async def bare(scope, receive, send):
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"raw"})

    async with app_client(bare, lifespan=False) as client:
        r = await client.get("/anything")
    assert r.text == "raw"


async def test_expect_json_and_keys_report_differences():
    async with app_client(small_app()) as client:
        r = await client.get("/greet", params={"name": "Bo"})
    with pytest.raises(CheckFailed, match="expected: {\"message\": \"hi\"}"):
        expect_json(r, {"message": "hi"})
    with pytest.raises(CheckFailed, match=r"missing: \['status'\]"):
        expect_keys(r, {"message", "status"})
    assert expect_keys(r, ["message"]) == {"message": "hello, Bo"}


async def test_within_names_what_hung():
    with pytest.raises(CheckFailed, match="waiting for the moon"):
        await within(asyncio.sleep(5), 0.05, "the moon")
    assert await within(asyncio.sleep(0, result=7), 1, "a number") == 7


async def test_eventually_waits_for_what_happens_elsewhere_and_gives_up_in_bounded_time():
    flag = {"set": False, "checks": 0}

    def condition() -> bool:
        flag["checks"] += 1
        return flag["set"]

    async def set_later() -> None:
        for _ in range(3):  # a few turns of the event loop, not a duration
            await asyncio.sleep(0)
        flag["set"] = True

    task = asyncio.create_task(set_later())
    assert await eventually(condition, seconds=5) is True
    await task
    assert flag["checks"] >= 2  # checked, waited, checked again
    flag["checks"] = 0
    assert await eventually(lambda: bool(flag.__setitem__("checks", flag["checks"] + 1)), seconds=0.05) is False
    assert flag["checks"] >= 2  # it kept checking until the time ran out, then said so


async def test_poll_returns_the_first_answer_that_satisfies_until_or_the_last_one():
    app = FastAPI()
    state = {"calls": 0}

    @app.get("/ready")
    async def ready() -> dict[str, int]:
        state["calls"] += 1
        return {"calls": state["calls"]}

    async with app_client(app) as client:
        r = await poll(client, "/ready", until=lambda r: r.json()["calls"] >= 3, seconds=5)
        assert r.json() == {"calls": 3}  # stopped at the first answer that satisfied it
        r = await poll(client, "/ready", until=lambda r: False, seconds=0.05)
        assert r.status_code == 200 and r.json()["calls"] > 4  # gave up in time, with the last answer


def test_expect_passes_and_fails():
    expect(True, "never shown")
    with pytest.raises(CheckFailed, match="shown"):
        expect(False, "shown", hint="h")


# -- WebSocket ---------------------------------------------------------------------------
async def test_websocket_round_trip_and_close():
    async with app_client(small_app()) as client:
        async with websocket(client, "/ws", timeout=1) as ws:
            await ws.send_json({"type": "ping"})
            assert await ws.receive_json() == {"echo": {"type": "ping"}}
            await ws.send_json({"type": "bye"})
            assert await ws.expect_close(1000) == 1000


async def test_websocket_sends_binary_frames():
    app = FastAPI()

    @app.websocket("/bytes")
    async def bytes_endpoint(ws: WebSocket):
        await ws.accept()
        message = await ws.receive()
        await ws.send_json({"bytes": message.get("bytes", b"").hex(), "text": message.get("text")})
        await ws.close()

    async with app_client(app) as client:
        async with websocket(client, "/bytes", timeout=1) as ws:
            await ws.send_bytes(b"\x00\xff")
            assert await ws.receive_json() == {"bytes": "00ff", "text": None}


async def test_websocket_receive_times_out_readably():
    async with app_client(small_app()) as client:
        async with websocket(client, "/ws", timeout=0.2) as ws:
            with pytest.raises(CheckFailed, match="No message arrived on WebSocket /ws within 0.2 s"):
                await ws.receive_json()


async def test_websocket_refused_before_accept_reports_close_code():
    async with app_client(small_app()) as client:
        with pytest.raises(WebSocketDisconnect) as info:
            async with websocket(client, "/private"):
                pass
    assert info.value.code == 1008


# -- real server -----------------------------------------------------------------------
def streaming_app(llm: FakeLLM) -> FastAPI:
    app = FastAPI()

    @app.get("/tokens")
    async def tokens(prompt: str):
        async def events():
            async for token in llm.astream(prompt):
                yield f"data: {json.dumps({'token': token})}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    @app.get("/health")
    def health():
        return {"status": "ok"}

    return app


async def test_serve_streams_incrementally_on_a_real_socket():
    llm = FakeLLM(latency=0.05, token_delay=0.05)
    prompt = "tell me a joke"
    expected = llm.tokens_for(prompt)
    with serve(streaming_app(llm)) as server:
        assert server.url.startswith("http://127.0.0.1:")
        async with server.client() as client:
            generated_at_first_token, tokens = None, []
            async with sse_stream(client, "GET", "/tokens", params={"prompt": prompt}) as stream:
                async for event in stream:
                    if generated_at_first_token is None:
                        generated_at_first_token = llm.completed
                    if event.data == "[DONE]":
                        break
                    tokens.append(json.loads(event.data)["token"])
    assert tokens == expected
    # Counted, not timed: when the first token reached the client, the model had not finished its
    # reply yet, so the body was not buffered (a buffered body arrives only after completion).
    assert generated_at_first_token == 0 and llm.completed == 1


async def test_serve_stops_when_the_block_fails():
    app = streaming_app(FakeLLM())
    with pytest.raises(ZeroDivisionError):
        with serve(app) as server:
            port = server.port
            assert any(t.name == f"uvicorn-{port}" for t in threading.enumerate())
            1 / 0
    # The server's thread is gone (serve joins it), so nothing answers on that port any more. Checked
    # through the thread, not by connecting: another process may take the freed port at any time.
    assert not any(t.name == f"uvicorn-{port}" for t in threading.enumerate())


async def test_client_disconnect_cancels_generation_on_real_server():
    llm = FakeLLM(token_delay=0.05)
    with serve(streaming_app(llm)) as server:
        async with server.client() as client:
            async with sse_stream(client, "GET", "/tokens", params={"prompt": "tell me a joke"}) as stream:
                await anext(stream)
        deadline = time.monotonic() + 3
        while llm.cancelled == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
    assert llm.cancelled == 1 and llm.completed == 0


async def test_read_sse_in_process_and_non_stream_is_reported():
    llm = FakeLLM()
    async with app_client(streaming_app(llm)) as client:
        events = await read_sse(client, "GET", "/tokens", params={"prompt": "hi there"})
        assert events[-1].data == "[DONE]"
        assert "".join(json.loads(e.data)["token"] for e in events[:-1]) == llm.reply_for("hi there")
        with pytest.raises(CheckFailed, match="not an event stream"):
            await read_sse(client, "GET", "/health")


def test_serve_reports_a_failing_lifespan():
    @asynccontextmanager
    async def broken(app):
        raise RuntimeError("model file missing")
        yield

    with pytest.raises(RuntimeError, match="stopped during start-up"):
        with serve(FastAPI(lifespan=broken)):
            pass


# -- fake LLM ----------------------------------------------------------------------------
async def test_fake_llm_is_deterministic_and_matches_rules():
    llm = FakeLLM()
    assert "30 days" in llm.reply_for("I want a REFUND please")
    assert llm.reply_for("something else entirely") == FakeLLM().reply_for("something else entirely")
    reply = await llm.complete("I want a refund")
    assert reply == llm.reply_for("I want a refund")
    assert "".join(llm.tokens_for("x y z")) == llm.reply_for("x y z")
    assert coursekit.count_tokens("Hello, world!") == 4


async def test_fake_llm_takes_any_str():
    # A JSON string may carry a lone surrogate ("\\ud800"): the model must answer it, not crash.
    llm = FakeLLM()
    for prompt in ["\ud800", "caf\u00e9 \U0001f600", "", "\x00"]:
        assert await llm.complete(prompt) == llm.reply_for(prompt)
        assert "".join([t async for t in llm.astream(prompt)]) == llm.reply_for(prompt)


async def test_fake_llm_counts_peak_concurrency():
    llm = FakeLLM(latency=0.05)
    await asyncio.gather(*(llm.complete(f"q{i}") for i in range(5)))
    assert (llm.calls, llm.peak_active, llm.active, llm.completed) == (5, 5, 0, 5)
    llm.reset()
    for i in range(3):
        await llm.complete(f"q{i}")
    assert (llm.calls, llm.peak_active) == (3, 1)


async def test_fake_llm_failure_injection():
    llm = FakeLLM()
    llm.fail_next("rate_limit")
    with pytest.raises(RateLimitError) as info:
        await llm.complete("hi")
    assert info.value.retry_after > 0
    llm.fail_next("rate_limit", retry_after=2.5)
    with pytest.raises(RateLimitError) as info:
        await llm.complete("hi")
    assert info.value.retry_after == 2.5 and "2.5 s" in str(info.value)
    llm.fail_next("timeout")
    with pytest.raises(UpstreamTimeout):
        await llm.complete("hi")
    assert await llm.complete("hi there") == llm.reply_for("hi there")
    assert (llm.failed, llm.completed) == (3, 1)

    llm.fail_next("rate_limit", after_tokens=2)
    received = []
    with pytest.raises(RateLimitError):
        async for token in llm.astream("hello"):
            received.append(token)
    assert received == llm.tokens_for("hello")[:2]

    llm.fail_next("hang")
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(llm.complete("hi"), 0.05)
    assert llm.cancelled == 1 and llm.active == 0
    with pytest.raises(ValueError):
        llm.fail_next("nonsense")  # type: ignore[arg-type]


async def test_fake_llm_stream_closed_early_counts_as_cancelled():
    llm = FakeLLM()
    stream = llm.astream("tell me a joke")
    await anext(stream)
    await stream.aclose()
    assert (llm.cancelled, llm.active, llm.tokens_streamed) == (1, 0, 1)
    assert llm.stats()["cancelled"] == 1


async def test_a_failed_check_inside_the_client_block_is_not_wrapped_in_a_group():
    with pytest.raises(CheckFailed, match="should answer 200, but it answered 404"):
        async with app_client(small_app()) as client:
            expect_status(await client.get("/missing"), 200)
    with pytest.raises(CheckFailed, match="No message arrived"):
        async with app_client(small_app()) as client:
            async with websocket(client, "/ws", timeout=0.1) as ws:
                await ws.receive_json()


async def test_serve_answers_kept_alive_requests_without_nagle_delay():
    with serve(streaming_app(FakeLLM())) as server:
        async with server.client() as client:
            await client.get("/health")
            durations = []
            for _ in range(9):
                start = time.perf_counter()
                await client.get("/health")
                durations.append(time.perf_counter() - start)
    # With Nagle's algorithm on, EVERY request on a kept-alive connection waits ~40 ms for a delayed
    # ACK; without it, well under 1 ms. So the fastest of nine tells, however busy the machine is.
    fastest = min(durations)
    assert fastest < 0.030, f"the fastest of 9 requests on a kept-alive connection took {fastest * 1000:.0f} ms"


# -- reference parts: 06's token issuer and reader, 13's contract stand-in ---------------------------
async def test_reference_token_issuer_and_claims_reader_agree_and_refuse_bad_tokens():
    import jwt
    from datetime import timedelta
    from types import SimpleNamespace

    from fastapi import Depends
    from fastapi.security import OAuth2PasswordBearer

    settings = SimpleNamespace(jwt_secret="s" * 48, jwt_issuer="https://issuer.example", jwt_audience="course-api",
                               access_token_minutes=15)
    issue_token = coursekit.reference_token_issuer(settings)
    claims = jwt.decode(issue_token("ada", ["a:b", "c:d"]), "s" * 48, algorithms=["HS256"],
                        audience="course-api", issuer="https://issuer.example")
    assert claims["sub"] == "ada" and claims["scope"] == "a:b c:d" and claims["exp"] - claims["iat"] == 15 * 60
    settings.access_token_minutes = 7  # read on every call
    zero, default = issue_token("ada", expires_in=timedelta(0)), issue_token("ada")
    unchecked = {"algorithms": ["HS256"], "audience": "course-api", "options": {"verify_exp": False}}
    assert (lambda c: c["exp"] - c["iat"])(jwt.decode(zero, "s" * 48, **unchecked)) == 0  # not 15 minutes
    assert (lambda c: c["exp"] - c["iat"])(jwt.decode(default, "s" * 48, **unchecked)) == 7 * 60

    read_claims = coursekit.reference_claims_reader(settings, OAuth2PasswordBearer(tokenUrl="token"))
    app = FastAPI()

    @app.get("/claims")
    async def show(claims: dict = Depends(read_claims)) -> dict:  # a default: this file's annotations are strings
        return claims

    other = jwt.encode({"sub": "ada", "iss": "https://issuer.example", "aud": "billing", "iat": 0, "exp": 2**40},
                       "s" * 48, algorithm="HS256")
    async with app_client(app) as client:
        r = await client.get("/claims", headers={"Authorization": f"Bearer {default}"})
        assert r.status_code == 200 and r.json()["sub"] == "ada"
        for token in (zero, other, "not.a.jwt", default + "x"):
            r = await client.get("/claims", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert r.json() == {"detail": "Could not validate credentials"}
        assert (await client.get("/claims")).status_code == 401


async def test_agent_contract_app_keeps_the_contract_and_each_bug_breaks_it():
    from coursekit.agent_contract import CONTRACT_BUGS

    async def check(app) -> None:  # a compact suite of the five rules; raises AssertionError on a broken app
        async with app_client(app) as client:
            async def auth(name: str) -> dict[str, str]:
                r = await client.post("/api/v1/auth/token", data={"username": name, "password": "pw-123456"})
                assert r.status_code == 200
                return {"Authorization": f"Bearer {r.json()['access_token']}"}

            for name in ("ada", "bob", "carol"):
                r = await client.post("/api/v1/auth/register", json={"username": name, "password": "pw-123456"})
                assert r.status_code == 201
            r = await client.post("/api/v1/auth/register", json={"username": "ada", "password": "other"})
            assert r.status_code == 409
            ada, bob, carol = await auth("ada"), await auth("bob"), await auth("carol")
            r = await client.get("/api/v1/me", headers=ada)
            assert r.status_code == 200 and r.json()["username"] == "ada"
            r = await client.post("/api/v1/auth/token", data={"username": "ada", "password": "wrong"})
            assert r.status_code == 401
            r = await client.post("/api/v1/chat", json={"message": "hi"}, headers=ada)
            assert r.status_code == 200 and "reply" in r.json()
            assert (await client.post("/api/v1/chat", json={"message": "  "}, headers=ada)).status_code == 422
            path = f"/api/v1/conversations/{r.json()['conversation_id']}"
            assert (await client.get(path, headers=ada)).status_code == 200
            assert (await client.get(path, headers=bob)).status_code == 404
            for _ in range(3):
                assert (await client.post("/api/v1/chat", json={"message": "hi"}, headers=carol)).status_code == 200
            r = await client.post("/api/v1/chat", json={"message": "hi"}, headers=carol)
            assert r.status_code == 429 and "retry-after" in r.headers

    await check(coursekit.agent_contract_app(rate_limit=3))
    for bug in CONTRACT_BUGS:
        with pytest.raises(AssertionError):
            await check(coursekit.agent_contract_app(rate_limit=3, bugs={bug}))
    with pytest.raises(ValueError):
        coursekit.agent_contract_app(bugs={"no-such-bug"})
