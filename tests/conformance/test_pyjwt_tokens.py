"""PyJWT, on its own, reads the access tokens that notebooks 06 and 13 hand out over a real socket.

The notebooks test their tokens with their own helpers; here a separate client checks what a resource
server would: PyJWT in this test process, with only the secret, issuer and audience the apps are
configured with (set through the environment before the notebook's cells run, as a deployment would),
decodes each token strictly. The header's `alg` is the one taught (HS256); `sub`, `iat`, `exp`, `iss`
and `aud` are present and right; `exp` is in the future and `exp - iat` is the lifetime the response
announces in `expires_in`; a wrong audience, issuer, algorithm or key is refused. The token responses
themselves follow RFC 6749, section 5.1: `token_type` bearer, `expires_in`, `Cache-Control: no-store`.

Apps: notebook 06's exercise 2 issuer (`create_access_token`, behind a small app defined in the
prelude), exercise 3's `token_app` (password flow), exercise 8's `callback_app` (authorization code +
PKCE against the notebook's own identity provider, served too); notebook 13's `/api/v1/auth/token`.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import jwt
import pytest

from served import served

pytestmark = pytest.mark.xdist_group("conformance-pyjwt")

TIMEOUT = 10.0  # seconds, every request
ALGORITHM = "HS256"  # what both notebooks teach
REQUIRED = ["sub", "iat", "exp", "iss", "aud"]

# Notebook 06 reads COURSE_AUTH_* (section 3); an issuer and audience unlike its defaults prove the tokens
# follow the settings. (The lifetime keeps its default, 15 minutes: the lean run keeps a test cell that
# counts on it.)
SECRET_06 = secrets.token_urlsafe(48)
ISSUER_06, AUDIENCE_06, MINUTES_06 = "https://issuer.conformance.example", "conformance-api", 15
PRELUDE_06 = f"""
import os
os.environ["COURSE_AUTH_JWT_SECRET"] = {SECRET_06!r}
os.environ["COURSE_AUTH_JWT_ISSUER"] = {ISSUER_06!r}
os.environ["COURSE_AUTH_JWT_AUDIENCE"] = {AUDIENCE_06!r}


def _conformance_issuer():
    # Exercise 2's create_access_token is a function: this app hands out what it makes.
    from fastapi import FastAPI, Query

    app = FastAPI()

    @app.get("/issue")
    def issue(sub: str, scope: list[str] = Query(default=[]), seconds: int | None = None) -> dict:
        from datetime import timedelta
        lifetime = None if seconds is None else timedelta(seconds=seconds)
        return {{"token": create_access_token(sub, scope, lifetime)}}

    return app


def _conformance_logins():
    # What exercise 7's /login does for callback_app: a pending state and its verifier.
    import secrets
    from fastapi import FastAPI

    app = FastAPI()

    @app.post("/start")
    def start() -> dict:
        state, verifier = secrets.token_urlsafe(32), secrets.token_urlsafe(64)
        CALLBACK_PENDING[state] = verifier
        return {{"state": state, "verifier": verifier}}

    return app
"""
APPS_06 = {
    "issuer": "_conformance_issuer()",
    "token": "token_app",
    "callback": "callback_app",
    "idp": "idp_app",
    "logins": "_conformance_logins()",
}
ADA_PASSWORD = "analytical-engine-1843"  # notebook 06's demo account (section 5)
ADA_SCOPES = {"chat:write", "reports:read", "reports:write"}
ADA_IDP_SUB = "idp-7f3a9c"  # notebook 06's identity provider's user ada
REDIRECT_URI = "https://app.example/callback"
CLIENT_ID = "course-notebook"

# Notebook 13 reads AGENT_* (Exercise 1's Settings); the final cell's `settings = Settings()` reads them.
SECRET_13 = secrets.token_urlsafe(48)
ISSUER_13, AUDIENCE_13, MINUTES_13 = "conformance-agent-api", "conformance-agent-clients", 9
PRELUDE_13 = f"""
import os
os.environ["AGENT_JWT_SECRET"] = {SECRET_13!r}
os.environ["AGENT_JWT_ISSUER"] = {ISSUER_13!r}
os.environ["AGENT_JWT_AUDIENCE"] = {AUDIENCE_13!r}
os.environ["AGENT_ACCESS_TOKEN_MINUTES"] = "{MINUTES_13}"
"""
APPS_13 = {"agent": "build_app(Settings(), my_parts, hasher=FAST_HASHER)"}


@pytest.fixture(scope="module")
def urls_06() -> Iterator[dict[str, str]]:
    with served("06_authentication", APPS_06, prelude=PRELUDE_06) as urls:
        yield urls


@pytest.fixture(scope="module")
def urls_13() -> Iterator[dict[str, str]]:
    with served("13_capstone", APPS_13, prelude=PRELUDE_13) as urls:
        yield urls


def strict_claims(token: str, secret: str, issuer: str, audience: str) -> dict:
    """Decode as a resource server should; also prove that the wrong audience, issuer, algorithm or key is refused."""
    header = jwt.get_unverified_header(token)
    assert header.get("alg") == ALGORITHM, f"the header's alg should be {ALGORITHM}, got {header}"
    claims = jwt.decode(token, secret, algorithms=[ALGORITHM], audience=audience, issuer=issuer,
                        options={"require": REQUIRED})
    refusals = {
        "another audience": dict(key=secret, algorithms=[ALGORITHM], audience="another-api", issuer=issuer),
        "another issuer": dict(key=secret, algorithms=[ALGORITHM], audience=audience, issuer="https://evil.example"),
        "another algorithm": dict(key=secret, algorithms=["HS512"], audience=audience, issuer=issuer),
        "another key": dict(key=secrets.token_urlsafe(48), algorithms=[ALGORITHM], audience=audience, issuer=issuer),
    }
    for what, kwargs in refusals.items():
        with pytest.raises(jwt.InvalidTokenError):
            jwt.decode(token, **kwargs)
            pytest.fail(f"PyJWT accepted the token when expecting {what}")
    now = time.time()
    assert claims["iat"] <= now + 5, f"iat {claims['iat']} is in the future (now {now:.0f})"
    assert now - 60 <= claims["iat"], f"iat {claims['iat']} is long past (now {now:.0f})"
    assert claims["exp"] > now, f"exp {claims['exp']} is not in the future (now {now:.0f})"
    assert isinstance(claims["sub"], str) and claims["sub"], f"sub should be a non-empty string, got {claims['sub']!r}"
    return claims


def token_response(r: httpx.Response, what: str) -> dict:
    """RFC 6749, section 5.1: a successful token response."""
    assert r.status_code == 200, f"{what}: expected 200, got {r.status_code} {r.text}"
    assert r.headers.get("content-type", "").startswith("application/json"), f"{what}: {r.headers.get('content-type')}"
    body = r.json()
    assert isinstance(body.get("access_token"), str), f"{what}: no access_token in {body}"
    assert str(body.get("token_type", "")).lower() == "bearer", f"{what}: token_type should be bearer, got {body.get('token_type')!r}"
    assert isinstance(body.get("expires_in"), int) and body["expires_in"] > 0, \
        f"{what}: expires_in (the lifetime in seconds) is missing or not a positive integer: {body}"
    cache_control = {part.strip().lower() for part in r.headers.get("cache-control", "").split(",")}
    assert "no-store" in cache_control, f"{what}: a token response needs Cache-Control: no-store, got {r.headers.get('cache-control')!r}"
    return body


def lifetime_matches(claims: dict, expires_in: int, what: str) -> None:
    assert claims["exp"] - claims["iat"] == expires_in, \
        f"{what}: exp - iat is {claims['exp'] - claims['iat']} s, but expires_in says {expires_in}"
    assert abs(claims["exp"] - (time.time() + expires_in)) <= 10, f"{what}: exp is not now + expires_in"


# ---- notebook 06 ----------------------------------------------------------------------------------

def test_06_exercise_2_issuer_makes_strict_tokens(urls_06: dict[str, str]) -> None:
    with httpx.Client(base_url=urls_06["issuer"], timeout=TIMEOUT) as client:
        token = client.get("/issue", params={"sub": "ada", "scope": ["chat:write", "reports:read"]}).json()["token"]
        claims = strict_claims(token, SECRET_06, ISSUER_06, AUDIENCE_06)
        assert claims["sub"] == "ada" and claims["scope"] == "chat:write reports:read", claims
        assert claims["exp"] - claims["iat"] == MINUTES_06 * 60, \
            f"the default lifetime should be access_token_minutes ({MINUTES_06}) minutes, got {claims['exp'] - claims['iat']} s"
        token = client.get("/issue", params={"sub": "grace", "seconds": 120}).json()["token"]
        claims = strict_claims(token, SECRET_06, ISSUER_06, AUDIENCE_06)
        assert claims["exp"] - claims["iat"] == 120 and claims["scope"] == "", claims


def test_06_exercise_3_token_endpoint(urls_06: dict[str, str]) -> None:
    with httpx.Client(base_url=urls_06["token"], timeout=TIMEOUT) as client:
        r = client.post("/token", data={"username": "ada", "password": ADA_PASSWORD})
        body = token_response(r, "06 POST /token")
        claims = strict_claims(body["access_token"], SECRET_06, ISSUER_06, AUDIENCE_06)
        lifetime_matches(claims, body["expires_in"], "06 POST /token")
        assert body["expires_in"] == MINUTES_06 * 60
        assert claims["sub"] == "ada" and set(claims["scope"].split()) == ADA_SCOPES, claims
        r = client.post("/token", data={"username": "ada", "password": "not her password"})
        assert r.status_code == 401 and r.headers.get("www-authenticate", "").lower().startswith("bearer"), r.text


def test_06_exercise_8_callback(urls_06: dict[str, str]) -> None:
    with httpx.Client(timeout=TIMEOUT) as client:
        pending = client.post(f"{urls_06['logins']}/start").json()
        challenge = base64.urlsafe_b64encode(hashlib.sha256(pending["verifier"].encode()).digest()).rstrip(b"=").decode()
        r = client.get(f"{urls_06['idp']}/authorize", params={
            "response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "scope": "openid email",
            "state": pending["state"], "code_challenge": challenge, "code_challenge_method": "S256", "login_hint": "ada"})
        assert r.status_code == 302, f"the IdP refused the authorization request: {r.status_code} {r.text}"
        back = parse_qs(urlsplit(r.headers["location"]).query)
        assert back["state"] == [pending["state"]]
        r = client.get(f"{urls_06['callback']}/callback", params={"code": back["code"][0], "state": pending["state"]},
                       headers={"Cookie": f"oauth_state={pending['state']}"})
        body = token_response(r, "06 GET /callback")
        claims = strict_claims(body["access_token"], SECRET_06, ISSUER_06, AUDIENCE_06)
        lifetime_matches(claims, body["expires_in"], "06 GET /callback")
        assert claims["sub"] == ADA_IDP_SUB, f"the token is about the IdP's user {ADA_IDP_SUB}, got {claims['sub']!r}"
        assert body["email"] == "ada@example.org", body


# ---- notebook 13 ----------------------------------------------------------------------------------

def test_13_login_token(urls_13: dict[str, str]) -> None:
    username, password = f"jwt_{secrets.token_hex(4)}", "a long enough passphrase"
    with httpx.Client(base_url=urls_13["agent"], timeout=TIMEOUT) as client:
        r = client.post("/api/v1/auth/register", json={"username": username, "password": password})
        assert r.status_code == 201, r.text
        user_id = r.json()["id"]
        r = client.post("/api/v1/auth/token", data={"username": username, "password": password})
        body = token_response(r, "13 POST /api/v1/auth/token")
        claims = strict_claims(body["access_token"], SECRET_13, ISSUER_13, AUDIENCE_13)
        lifetime_matches(claims, body["expires_in"], "13 POST /api/v1/auth/token")
        assert body["expires_in"] == MINUTES_13 * 60, \
            f"AGENT_ACCESS_TOKEN_MINUTES={MINUTES_13} should give expires_in {MINUTES_13 * 60}, got {body['expires_in']}"
        assert claims["sub"] == str(user_id), f"sub should be the user id as a string, {str(user_id)!r}; got {claims['sub']!r}"
        r = client.get("/api/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
        assert r.status_code == 200 and r.json() == {"id": user_id, "username": username}, r.text
