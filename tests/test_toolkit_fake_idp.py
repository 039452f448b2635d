"""Specification of coursekit.fake_idp: pkce_challenge and FakeIdentityProvider (notebook 06).

No `from __future__ import annotations`: FastAPI must read the dependency annotation of the last test,
which names a local variable.
"""

import secrets
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi import Depends, FastAPI

from coursekit import CheckFailed, FakeIdentityProvider, app_client, pkce_challenge

pytestmark = pytest.mark.anyio

IDP_BASE = "https://idp.example"
REDIRECT_URI = "https://app.example/callback"
USERS = {"ada": {"sub": "idp-1", "email": "ada@example.org", "name": "Ada"},
         "grace": {"sub": "idp-2", "email": "grace@example.org", "name": "Grace"}}


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def fake_idp():
    return FakeIdentityProvider(base_url=IDP_BASE, client_id="client-1", redirect_uri=REDIRECT_URI, users=USERS)


def exchange_form(code: str, verifier: str | None, **changes) -> dict:
    form = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI,
            "client_id": "client-1", "code_verifier": verifier}
    form.update(changes)
    return {name: value for name, value in form.items() if value is not None}


def test_pkce_challenge_is_the_rfc_7636_example():
    # RFC 7636, appendix B
    assert pkce_challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    assert len(pkce_challenge(secrets.token_urlsafe(64))) == 43
    assert pkce_challenge("a" * 43) != pkce_challenge("a" * 44)


async def test_the_whole_flow_gives_the_users_profile(fake_idp):
    verifier = secrets.token_urlsafe(64)
    async with app_client(fake_idp.app, base_url=IDP_BASE) as idp:
        code = await fake_idp.authorize(idp, state="s-1", challenge=pkce_challenge(verifier), login="grace")
        assert fake_idp.codes[code]["sub"] == "idp-2"
        r = await idp.post("/token", data=exchange_form(code, verifier))
        assert r.status_code == 200 and r.json()["token_type"] == "Bearer" and r.json()["expires_in"] == 300
        r = await idp.get("/userinfo", headers={"Authorization": f"Bearer {r.json()['access_token']}"})
        assert r.json() == USERS["grace"]


async def test_authorize_redirects_back_with_the_state_unchanged(fake_idp):
    async with app_client(fake_idp.app, base_url=IDP_BASE) as idp:
        r = await idp.get("/authorize", params={"response_type": "code", "client_id": "client-1", "redirect_uri": REDIRECT_URI,
                                                "state": "xyz", "code_challenge": pkce_challenge("v" * 43),
                                                "code_challenge_method": "S256"})
        assert r.status_code == 302
        location = urlsplit(r.headers["location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        assert parse_qs(location.query)["state"] == ["xyz"]


@pytest.mark.parametrize(("change", "error"), [
    ({"client_id": "someone-else"}, "invalid_request"),
    ({"redirect_uri": "https://evil.example/callback"}, "invalid_request"),
    ({"response_type": "token"}, "unsupported_response_type"),
    ({"code_challenge_method": "plain"}, "invalid_request"),
    ({"code_challenge": "too-short"}, "invalid_request"),
    ({"login_hint": "mallory"}, "access_denied"),
])
async def test_authorize_refuses_a_bad_request(fake_idp, change, error):
    query = {"response_type": "code", "client_id": "client-1", "redirect_uri": REDIRECT_URI, "state": "s",
             "code_challenge": pkce_challenge("v" * 43), "code_challenge_method": "S256", **change}
    async with app_client(fake_idp.app, base_url=IDP_BASE) as idp:
        r = await idp.get("/authorize", params=query)
    assert r.status_code == 400 and r.json()["error"] == error
    assert fake_idp.codes == {}


async def test_authorize_helper_fails_when_the_idp_refuses(fake_idp):
    async with app_client(fake_idp.app, base_url=IDP_BASE) as idp:
        with pytest.raises(CheckFailed, match="should answer 302"):
            await fake_idp.authorize(idp, state="s", challenge=pkce_challenge("v" * 43), login="mallory")


@pytest.mark.parametrize(("verifier", "changes", "description"), [
    ("right", {}, None),
    ("wrong", {}, "does not match"),
    (None, {}, "is required"),
    ("right", {"client_id": "other"}, "differ"),
    ("right", {"redirect_uri": "https://app.example/other"}, "differ"),
    ("right", {"grant_type": "password"}, "only authorization_code"),
])
async def test_a_code_is_exchanged_only_with_its_verifier_client_and_redirect(fake_idp, verifier, changes, description):
    right = secrets.token_urlsafe(64)
    sent = {"right": right, "wrong": secrets.token_urlsafe(64), None: None}[verifier]
    async with app_client(fake_idp.app, base_url=IDP_BASE) as idp:
        code = await fake_idp.authorize(idp, state="s", challenge=pkce_challenge(right))
        r = await idp.post("/token", data=exchange_form(code, sent, **changes))
    if description is None:
        assert r.status_code == 200
    else:
        assert r.status_code == 400 and description in r.json()["error_description"]
        assert fake_idp.tokens == {}


async def test_a_code_works_once_and_a_replay_revokes_its_token(fake_idp):
    verifier = secrets.token_urlsafe(64)
    async with app_client(fake_idp.app, base_url=IDP_BASE) as idp:
        code = await fake_idp.authorize(idp, state="s", challenge=pkce_challenge(verifier))
        token = (await idp.post("/token", data=exchange_form(code, verifier))).json()["access_token"]
        replay = await idp.post("/token", data=exchange_form(code, verifier))
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
        r = await idp.get("/userinfo", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


async def test_userinfo_refuses_a_missing_or_unknown_token(fake_idp):
    async with app_client(fake_idp.app, base_url=IDP_BASE) as idp:
        assert (await idp.get("/userinfo")).status_code == 401
        assert (await idp.get("/userinfo", headers={"Authorization": "Bearer made-up"})).status_code == 401
        assert (await idp.get("/userinfo", headers={"Authorization": "Basic abc"})).status_code == 401


async def test_expired_codes_and_tokens_are_refused(fake_idp):
    verifier = secrets.token_urlsafe(64)
    async with app_client(fake_idp.app, base_url=IDP_BASE) as idp:
        code = await fake_idp.authorize(idp, state="s", challenge=pkce_challenge(verifier))
        fake_idp.codes[code]["expires"] -= 61                       # a minute went by
        r = await idp.post("/token", data=exchange_form(code, verifier))
        assert r.status_code == 400 and "expired" in r.json()["error_description"]
        code = await fake_idp.authorize(idp, state="s", challenge=pkce_challenge(verifier))
        token = (await idp.post("/token", data=exchange_form(code, verifier))).json()["access_token"]
        fake_idp.tokens[token]["expires"] -= 301
        assert (await idp.get("/userinfo", headers={"Authorization": f"Bearer {token}"})).status_code == 401


async def test_client_is_a_dependency_that_reaches_the_idp_in_memory(fake_idp):
    app = FastAPI()

    @app.get("/whoami")
    async def whoami(idp: Annotated[httpx.AsyncClient, Depends(fake_idp.client)]) -> dict:
        r = await idp.get("/userinfo", headers={"Authorization": "Bearer made-up"})
        return {"base": str(idp.base_url), "status": r.status_code}

    async with app_client(app) as client:
        assert (await client.get("/whoami")).json() == {"base": IDP_BASE, "status": 401}
