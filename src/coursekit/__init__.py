"""coursekit: the small toolkit every notebook of the course imports.

Talking to apps
    app_client(app)        in-process httpx client (HTTP + WebSocket), lifespan included
    websocket(client, p)   open a WebSocket through any client; receives have time limits
    serve(app)             a real uvicorn server on 127.0.0.1 and a free port
    sse_stream / read_sse  consume Server-Sent Events (parsed by httpx-sse)

A model to call
    FakeLLM                deterministic replies, latency, failure injection, counters
    RateLimitError, UpstreamTimeout, tokenize, count_tokens

Course data
    data_dir(), data_path(name), load_json(name)

Reference parts some notebooks build on (so that later exercises never lean on earlier answers)
    reference_token_issuer(settings), reference_claims_reader(settings, scheme)   06's tokens
    agent_contract_app(rate_limit=, bugs=)   13's in-memory Agent API, and the broken apps of exercise 10

Checks for test cells (readable failures, printed successes)
    expect_status, expect_json, expect_keys, json_body, expect, fail, within,
    describe, passed, visible_tests_passed, CheckFailed
    eventually(condition)  wait, a bounded time, for something that happens elsewhere (True/False)
    poll(client, path, until=)  GET a path until its answer satisfies `until` (a bounded time)

A database under test (07, 13; the app must be running)
    add_rows(app, *rows), count_rows(app, Model, **where), db_rows(app, select(...))
    watch_db(engine)       `with watch_db(engine) as spy:` records spy.statements and spy.checkouts

Tokens for tests and demos (06, 13)
    course_token_decoder(settings)   the strict check: HS256 only, our aud and iss, sub/exp/iat/iss/aud required
    course_claims_maker(settings), course_token_signer(settings)   make and sign almost-right tokens
    unsigned_token(claims), tampered_token(token, **changes)        "alg": "none"; an edited payload
    OpaqueTokens(settings)  13's stand-in token service (random strings kept in memory, they expire)
    FakeIdentityProvider(...), pkce_challenge(verifier)   06's "Log in with..." provider (OAuth 2.0 + PKCE)

Time under test (12, 13)
    ManualClock(start)     clock() reads the time, clock.advance(seconds) moves it; nothing else does
"""

from ._data import data_dir, data_path, load_json
from .agent_contract import agent_contract_app
from .auth_reference import reference_claims_reader, reference_token_issuer
from .checks import (
    CheckFailed,
    describe,
    eventually,
    expect,
    expect_json,
    expect_keys,
    expect_status,
    fail,
    json_body,
    passed,
    poll,
    visible_tests_passed,
    within,
)
from .clock import ManualClock
from .client import CourseClient, WebSocketSession, app_client, websocket
from .db_watch import add_rows, count_rows, db_rows, watch_db
from .fake_idp import FakeIdentityProvider, pkce_challenge
from .fake_llm import FakeLLM, FakeLLMError, RateLimitError, UpstreamTimeout, count_tokens, tokenize
from .server import RunningServer, serve
from .sse import SSEStream, read_sse, sse_stream
from .tokens import (
    OpaqueTokens, course_claims_maker, course_token_decoder, course_token_signer, tampered_token, unsigned_token,
)
from ._ipython import install as _install_error_display

_install_error_display()  # failed checks show as their message in Jupyter, nbval and nbgrader

__all__ = [
    "CheckFailed", "CourseClient", "FakeLLM", "FakeLLMError", "RateLimitError", "RunningServer",
    "SSEStream", "UpstreamTimeout", "WebSocketSession", "agent_contract_app", "app_client", "count_tokens", "data_dir",
    "data_path", "describe", "eventually", "expect", "expect_json", "expect_keys", "expect_status", "fail",
    "json_body", "load_json", "passed", "poll", "read_sse", "reference_claims_reader", "reference_token_issuer", "serve", "sse_stream", "tokenize",
    "visible_tests_passed", "websocket", "within",
    "ManualClock", "add_rows", "count_rows", "db_rows", "watch_db",
    "FakeIdentityProvider", "OpaqueTokens", "course_claims_maker", "course_token_decoder", "course_token_signer",
    "pkce_challenge", "tampered_token", "unsigned_token",
]
