"""Schemathesis against the capstone's own OpenAPI schema, on a real socket.

The capstone documents its refusals (`responses=` on the routes; `build_app` adds 400, 401 and 429), so
a client generated from that schema must never meet a status, a content type or a body the schema does
not describe. Schemathesis (nobody in this course wrote it) generates requests for every operation from
the schema, sends them to the reference solution's app served by uvicorn, and checks each answer:

- no 5xx (`not_a_server_error`);
- the status is documented, the content type is the documented one, the body matches the documented
  schema, and so do the documented headers;
- with a bearer token of a user registered through the API (so the generated data reaches the
  endpoints' logic), and where auth is required, that the route really refuses a request without it
  (`ignored_auth`); then once more with no token at all (401).

Generated data may or may not reach every refusal, so each status the app answers by design (400, 401,
404, 409, 422, 429) is also provoked on purpose and the answer checked against the schema with the same
checks. The fuzz run uses a rate limit no run reaches (else every later case would be a 429); a second
app, with a limit of 1, is driven into its 429s.

Bounded and deterministic: at most EXAMPLES cases per operation and generation mode, derandomized, no
example database; every request has a time limit.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import httpx
import hypothesis
import hypothesis.errors
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from served import served

pytestmark = pytest.mark.xdist_group("conformance-13-schemathesis")

TIMEOUT = 10.0  # seconds, every request
EXAMPLES = 25  # per operation and generation mode
PASSWORD = "a long enough passphrase"
MISSING_ID = 2**62  # a valid id that no conversation has

CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

APPS = {
    # the whole app from the reference parts, with a limit no fuzz run reaches
    "open": "build_app(test_settings(rate_limit=1_000_000), my_parts, hasher=FAST_HASHER)",
    # the same app with one generation per user and window: the second chat request is a 429
    "limited": "build_app(test_settings(rate_limit=1, rate_window_seconds=600), my_parts, hasher=FAST_HASHER)",
}


@pytest.fixture(scope="module")
def urls() -> Iterator[dict[str, str]]:
    with served("13_capstone", APPS) as urls:
        yield urls


def load_schema(base_url: str):
    return schemathesis.openapi.from_url(f"{base_url}/openapi.json", timeout=TIMEOUT)


def new_user(client: httpx.Client) -> tuple[str, dict[str, str]]:
    """Register a fresh user through the API and log in: its username and Authorization header."""
    username = f"fuzz_{secrets.token_hex(4)}"
    r = client.post("/api/v1/auth/register", json={"username": username, "password": PASSWORD})
    assert r.status_code == 201, f"registering {username}: {r.status_code} {r.text}"
    r = client.post("/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, f"logging in as {username}: {r.status_code} {r.text}"
    return username, {"Authorization": f"Bearer {r.json()['access_token']}"}


def requires_token(operation) -> bool:
    return bool(operation.definition.raw.get("security"))


def fuzz(schema, base_url: str, headers: dict[str, str], checks: list, modes: list[GenerationMode],
         only=lambda operation: True) -> tuple[list[str], int]:
    """Generate cases for every operation of `schema` that `only` accepts; return (one report per failing
    operation and mode, the number of cases sent)."""
    failures, sent = [], 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if not only(operation):
            continue
        for mode in modes:
            calls = 0

            @hypothesis.settings(
                max_examples=EXAMPLES,
                derandomize=True,
                database=None,
                deadline=None,
                phases=[Phase.explicit, Phase.generate, Phase.shrink],
                suppress_health_check=list(HealthCheck),
                print_blob=False,
            )
            @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                nonlocal calls
                calls += 1
                case.call_and_validate(base_url=base_url, headers=headers, checks=checks, timeout=TIMEOUT)

            try:
                run()
            except hypothesis.errors.Unsatisfiable:
                # nothing to make invalid: an operation without parameters or body
                assert mode is GenerationMode.NEGATIVE, f"{operation.label}: no valid request could be generated"
            except (AssertionError, BaseExceptionGroup) as exc:  # a FailureGroup: what failed, and the case as curl
                failures.append(f"{operation.label} ({mode.value}):\n{exc}")
            sent += calls
    return failures, sent


def test_authenticated_fuzz_meets_only_documented_answers(urls: dict[str, str]) -> None:
    base_url = urls["open"]
    schema = load_schema(base_url)
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        _, headers = new_user(client)
    started = time.monotonic()
    failures, sent = fuzz(schema, base_url, headers, CONFORMANCE + [ignored_auth],
                          [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
    print(f"authenticated: {sent} cases in {time.monotonic() - started:.1f} s")
    assert not failures, "\n\n".join(failures)
    assert sent >= 100, f"only {sent} cases were sent"


def test_without_a_token_the_answers_are_documented_401s(urls: dict[str, str]) -> None:
    base_url = urls["open"]
    schema = load_schema(base_url)
    protected = [result.ok() for result in schema.get_all_operations() if requires_token(result.ok())]
    expected = {"GET /api/v1/me", "POST /api/v1/chat", "GET /api/v1/conversations/{conversation_id}",
                "POST /api/v1/chat/stream", "GET /api/v1/conversations", "GET /api/v2/conversations"}
    assert {op.label for op in protected} == expected, \
        f"the schema should mark exactly the routes that need a token; it marks {sorted(op.label for op in protected)}"
    failures, sent = fuzz(schema, base_url, {}, CONFORMANCE, [GenerationMode.POSITIVE], only=requires_token)
    assert not failures, "\n\n".join(failures)
    assert sent >= len(protected), f"only {sent} cases were sent"
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        for operation in protected:
            path = operation.path.replace("{conversation_id}", "1")
            body = {"json": {"message": "hi"}} if operation.method.upper() == "POST" else {}
            r = client.request(operation.method.upper(), path, **body)
            assert r.status_code == 401, f"{operation.label} without a token answered {r.status_code}"
            assert r.headers.get("www-authenticate") == "Bearer", f"{operation.label}: a 401 without WWW-Authenticate: Bearer"
            operation.Case().validate_response(r, checks=CONFORMANCE)


def test_every_refusal_by_design_is_documented(urls: dict[str, str]) -> None:
    base_url = urls["open"]
    schema = load_schema(base_url)
    refusals: dict[str, set[int]] = {}

    def check(label: str, r: httpx.Response, status: int) -> None:
        assert r.status_code == status, f"{label}: expected {status} on purpose, got {r.status_code} {r.text}"
        operation = schema.find_operation_by_label(label)
        assert operation is not None, f"{label} is not in the schema"
        operation.Case().validate_response(r, checks=CONFORMANCE)  # documented status, content type and body
        refusals.setdefault(label, set()).add(status)

    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        username, headers = new_user(client)
        _, other = new_user(client)
        check("POST /api/v1/auth/register", client.post("/api/v1/auth/register", json={"username": username, "password": PASSWORD}), 409)
        check("POST /api/v1/auth/register", client.post("/api/v1/auth/register", json={"username": "x", "password": "y"}), 422)
        check("POST /api/v1/auth/token", client.post("/api/v1/auth/token", data={"username": username, "password": "not it at all"}), 401)
        check("POST /api/v1/auth/token", client.post("/api/v1/auth/token", data={"username": username}), 422)
        check("GET /api/v1/me", client.get("/api/v1/me", headers={"Authorization": "Bearer not-a-token"}), 401)
        r = client.post("/api/v1/chat", json={"message": "hello"}, headers=headers)
        check("POST /api/v1/chat", r, 200)
        mine = r.json()["conversation_id"]
        check("POST /api/v1/chat", client.post("/api/v1/chat", json={"message": "hi", "conversation_id": mine}, headers=other), 404)
        check("POST /api/v1/chat", client.post("/api/v1/chat", json={"message": "   "}, headers=headers), 422)
        check("POST /api/v1/chat/stream",
              client.post("/api/v1/chat/stream", json={"message": "hi", "conversation_id": MISSING_ID}, headers=headers), 404)
        check("GET /api/v1/conversations/{conversation_id}", client.get(f"/api/v1/conversations/{mine}", headers=other), 404)
        check("GET /api/v1/conversations/{conversation_id}", client.get("/api/v1/conversations/0", headers=headers), 422)
        check("GET /api/v2/conversations", client.get("/api/v2/conversations", params={"limit": 0}, headers=headers), 422)
        for label, path in [("POST /api/v1/auth/register", "/api/v1/auth/register"), ("POST /api/v1/chat", "/api/v1/chat"),
                            ("POST /api/v1/chat/stream", "/api/v1/chat/stream")]:
            # bytes that are not UTF-8: FastAPI refuses them with 400 before any validation
            r = client.post(path, content=b'{"message": "\xff"}', headers={**headers, "Content-Type": "application/json"})
            check(label, r, 400)
    assert refusals  # every check above passed


def test_429_is_documented_where_the_limit_answers_it(urls: dict[str, str]) -> None:
    base_url = urls["limited"]
    schema = load_schema(base_url)
    with httpx.Client(base_url=base_url, timeout=TIMEOUT) as client:
        for label in ("POST /api/v1/chat", "POST /api/v1/chat/stream"):
            _, headers = new_user(client)  # a fresh user, a fresh limit
            operation = schema.find_operation_by_label(label)
            assert operation is not None, f"{label} is not in the schema"
            first = operation.Case(body={"message": "hello"})
            r = first.call_and_validate(base_url=base_url, headers=headers, checks=CONFORMANCE, timeout=TIMEOUT)
            assert r.status_code == 200, f"{label}: the first request should pass, got {r.status_code}"
            second = operation.Case(body={"message": "hello again"})
            r = second.call_and_validate(base_url=base_url, headers=headers, checks=CONFORMANCE, timeout=TIMEOUT)
            assert r.status_code == 429, f"{label}: over the limit the answer should be 429, got {r.status_code}"
            assert r.headers.get("retry-after"), f"{label}: a 429 without Retry-After"
        r = client.get("/api/v1/me", headers=headers)
        assert r.status_code == 200, "reads are not limited"
    for label in ("GET /api/v1/conversations/{conversation_id}", "GET /api/v1/me", "GET /api/v2/conversations"):
        assert "429" not in schema.find_operation_by_label(label).definition.raw["responses"], \
            f"{label} is not limited, so it should not document a 429"
