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

Checks for WebSocket test cells (05)
    ws_connect(client, p)  open a WebSocket for a test; a refused connection fails and says why
    ws_receive(ws, what)   the next JSON message, or a failure naming what was expected
    ws_refusal_code(client, p)  the close code of a refused connection (None if accepted)
    expect_closed(ws, code), sessions_become(client, [...])  the server closes; GET /sessions lists

Checks for event streams (08; sse.py's docstring says which reader to use when)
    record_sse(client, m, url)  a StreamRecord: the events, when each arrived, a broken connection
    expect_event_stream(record)  the stream answered 200 with Content-Type text/event-stream
    parse_wire(text)       the events a client parses out of hand-written SSE text

Checks for raw ASGI apps (02)
    strict_asgi(app)       the app, raising ASGIRuleBroken when its HTTP answer breaks a rule of ASGI

Background tasks and threads (09)
    settle_tasks(*tasks)   end a test's background tasks (a bounded wait, then cancel) and collect their errors
    running_on_event_loop()  is this code running on the event loop's thread? (False in a worker thread)

Real server processes, always cleaned up (11)
    started_process(argv, sock=)  run a server process; yields once GET /healthz answers; kills its group after
    listening_socket(), free_port(), started_on_free_port(make_argv)   ports without races
    server_env(**extra), process_work_dir(), worker_pids(client, n), gunicorn_options(argv)
    RunningProcess, end_process_group(popen), running_process_groups()

Deployment files read as text (11)
    parse_dockerfile(text) -> [Instruction], exec_form(instruction)
    parse_nginx(text) -> [Directive], nginx_seconds(value), run_nginx(make_site), NGINX (None if not installed)

A WSGI server for Flask and Django apps (10)
    serve_wsgi(app, threads=4)   a real server on 127.0.0.1 and a free port, N worker threads (one request each)
    RunningWSGIServer, PooledWSGIServer

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
from .asgi_rules import ASGIRuleBroken, strict_asgi
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
from .dockerfile import Instruction, exec_form, parse_dockerfile
from .event_loop import running_on_event_loop, settle_tasks
from .fake_idp import FakeIdentityProvider, pkce_challenge
from .fake_llm import FakeLLM, FakeLLMError, RateLimitError, UpstreamTimeout, count_tokens, tokenize
from .nginx import NGINX, Directive, nginx_seconds, parse_nginx, run_nginx
from .processes import (
    RunningProcess,
    end_process_group,
    free_port,
    gunicorn_options,
    listening_socket,
    process_work_dir,
    running_process_groups,
    server_env,
    started_on_free_port,
    started_process,
    worker_pids,
)
from .server import RunningServer, serve
from .sse import SSEStream, StreamRecord, expect_event_stream, parse_wire, read_sse, record_sse, sse_stream
from .ws_checks import expect_closed, sessions_become, ws_connect, ws_receive, ws_refusal_code
from .wsgi_server import PooledWSGIServer, RunningWSGIServer, serve_wsgi
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
    "expect_closed", "sessions_become", "ws_connect", "ws_receive", "ws_refusal_code",
    "StreamRecord", "expect_event_stream", "parse_wire", "record_sse",
    "ASGIRuleBroken", "strict_asgi",
    "running_on_event_loop", "settle_tasks",
    # real server processes and deployment files (11)
    "Directive", "Instruction", "NGINX", "RunningProcess", "end_process_group", "exec_form", "free_port",
    "gunicorn_options", "listening_socket", "nginx_seconds", "parse_dockerfile", "parse_nginx", "process_work_dir",
    "run_nginx", "running_process_groups", "server_env", "started_on_free_port", "started_process", "worker_pids",
    # a WSGI server (10)
    "PooledWSGIServer", "RunningWSGIServer", "serve_wsgi",
    "ManualClock", "add_rows", "count_rows", "db_rows", "watch_db",
    "FakeIdentityProvider", "OpaqueTokens", "course_claims_maker", "course_token_decoder", "course_token_signer",
    "pkce_challenge", "tampered_token", "unsigned_token",
]
