"""A fake identity provider (IdP): the server side of "Log in with...", for the authentication notebook (06).

Notebook 06 asks the learner to write the *client* side of the OAuth 2.0 authorization-code flow with PKCE
(`GET /login` and `GET /callback` of their own app). Those need a provider to talk to. This one is a small
FastAPI app that runs in the kernel and behaves like a real IdP, with two simplifications:

- `/authorize` shows no login page: it logs in the user named by `login_hint` (default "ada"), as if they
  had typed their password and clicked "Allow";
- a bad authorization request gets an error answer directly, where a real IdP sends most errors back to
  the `redirect_uri`.

What it enforces, as a real provider does: a registered `client_id` and exact `redirect_uri`;
`response_type=code`; PKCE with S256 (RFC 7636); codes that work once, expire after a minute and are bound
to the client, the redirect URI and the challenge; a replayed code revokes the token issued for it
(RFC 6749, section 4.1.2); access tokens that expire after five minutes.

    idp = FakeIdentityProvider(base_url="https://idp.example", client_id="course-notebook",
                               redirect_uri="https://app.example/callback", users={"ada": {"sub": ...}})
    idp.app                    # GET /authorize, POST /token, GET /userinfo
    Depends(idp.client)        # how an app reaches it: an httpx client over ASGI, no network
    await idp.authorize(client, state=..., challenge=pkce_challenge(verifier))   # a user who says yes
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from fastapi import FastAPI, Form, Header
from fastapi.responses import JSONResponse, RedirectResponse

from .checks import expect_status, within

PKCE_VALUE = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636: the alphabet and lengths of a verifier
CODE_LIFETIME = 60.0          # seconds an authorization code may wait before it is exchanged
IDP_TOKEN_LIFETIME = 300.0    # seconds an IdP access token is valid
CLIENT_SECONDS = 5.0          # the time limit of every request made through FakeIdentityProvider.client


def pkce_challenge(verifier: str) -> str:
    """The PKCE S256 code challenge of `verifier`: BASE64URL(SHA256(ascii(verifier))) without '=' padding.

    RFC 7636, section 4.2. A verifier of 43 to 128 characters gives a challenge of 43 characters.
    Raises UnicodeEncodeError for a verifier that is not ASCII.
    """
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def _oauth_error(error: str, description: str, status_code: int = 400) -> JSONResponse:
    return JSONResponse({"error": error, "error_description": description}, status_code=status_code)


class FakeIdentityProvider:
    """An identity provider in memory: `app` is its FastAPI app, `client` the dependency that reaches it.

    Its state is visible to tests: `codes` (code -> what it was issued for), `spent_codes` (codes already
    exchanged) and `tokens` (access token -> {"sub", "code", "expires"}). Times come from time.monotonic().
    """

    def __init__(self, *, base_url: str, client_id: str, redirect_uri: str, users: dict[str, dict[str, str]]) -> None:
        """Register one client, `client_id`, with its one `redirect_uri`.

        `users` maps a login name to the profile that /userinfo answers; each profile needs a stable `sub`
        (for example {"sub": "idp-7f3a9c", "email": "ada@example.org", "name": "Ada Lovelace"}).
        `base_url` is where apps believe the IdP lives (the base URL of `client`).
        """
        self.base_url = base_url
        self.client_id = client_id
        self.redirect_uri = redirect_uri
        self.users = users
        self.codes: dict[str, dict[str, Any]] = {}
        self.spent_codes: set[str] = set()
        self.tokens: dict[str, dict[str, Any]] = {}
        self.app = self._make_app()

    def _make_app(self) -> FastAPI:
        app = FastAPI(title="Fake identity provider")
        clients = {self.client_id: {"redirect_uris": {self.redirect_uri}}}

        @app.get("/authorize")
        async def idp_authorize(
            client_id: str, redirect_uri: str, state: str, code_challenge: str,
            response_type: str = "", code_challenge_method: str = "plain", scope: str = "openid",
            login_hint: str = "ada",
        ):
            client = clients.get(client_id)
            if client is None or redirect_uri not in client["redirect_uris"]:
                return _oauth_error("invalid_request", "unknown client_id, or redirect_uri not registered for it")
            if response_type != "code":
                return _oauth_error("unsupported_response_type", "only response_type=code is supported")
            if code_challenge_method != "S256" or not PKCE_VALUE.fullmatch(code_challenge) or len(code_challenge) != 43:
                return _oauth_error("invalid_request", "PKCE is required: a 43-character S256 code_challenge")
            user = self.users.get(login_hint)
            if user is None:
                return _oauth_error("access_denied", "no such user at the IdP")
            # (A real IdP shows its login and consent pages here.)
            code = secrets.token_urlsafe(24)
            self.codes[code] = {"client_id": client_id, "redirect_uri": redirect_uri, "challenge": code_challenge,
                                "sub": user["sub"], "scope": scope, "expires": time.monotonic() + CODE_LIFETIME}
            return RedirectResponse(f"{redirect_uri}?{urlencode({'code': code, 'state': state})}", status_code=302)

        @app.post("/token")
        async def idp_token(
            grant_type: Annotated[str, Form()], code: Annotated[str, Form()], redirect_uri: Annotated[str, Form()],
            client_id: Annotated[str, Form()], code_verifier: Annotated[str | None, Form()] = None,
        ):
            if grant_type != "authorization_code":
                return _oauth_error("unsupported_grant_type", "only authorization_code is supported")
            grant = self.codes.pop(code, None)  # a code works once, whatever happens next
            if grant is None:
                if code in self.spent_codes:  # replayed: revoke what was issued for it
                    for token in [t for t, info in self.tokens.items() if info["code"] == code]:
                        del self.tokens[token]
                return _oauth_error("invalid_grant", "unknown, expired or already used code")
            self.spent_codes.add(code)
            if time.monotonic() > grant["expires"]:
                return _oauth_error("invalid_grant", "the code has expired")
            if client_id != grant["client_id"] or redirect_uri != grant["redirect_uri"]:
                return _oauth_error("invalid_grant", "client_id or redirect_uri differ from the authorization request")
            if code_verifier is None or not PKCE_VALUE.fullmatch(code_verifier):
                return _oauth_error("invalid_grant", "a code_verifier of 43 to 128 characters is required")
            if not secrets.compare_digest(pkce_challenge(code_verifier), grant["challenge"]):
                return _oauth_error("invalid_grant", "the code_verifier does not match the code_challenge")
            access_token = secrets.token_urlsafe(24)
            self.tokens[access_token] = {"sub": grant["sub"], "code": code,
                                         "expires": time.monotonic() + IDP_TOKEN_LIFETIME}
            return {"access_token": access_token, "token_type": "Bearer", "expires_in": int(IDP_TOKEN_LIFETIME),
                    "scope": grant["scope"]}

        @app.get("/userinfo")
        async def idp_userinfo(authorization: Annotated[str | None, Header()] = None):
            scheme, _, token = (authorization or "").partition(" ")
            info = self.tokens.get(token) if scheme.lower() == "bearer" else None
            if info is None or time.monotonic() > info["expires"]:
                return JSONResponse({"error": "invalid_token"}, status_code=401,
                                    headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
            return next(user for user in self.users.values() if user["sub"] == info["sub"])

        return app

    async def client(self) -> AsyncIterator[httpx.AsyncClient]:
        """A FastAPI dependency with `yield`: an httpx client that calls `app` in memory, at `base_url`.

        Use it as `idp: Annotated[httpx.AsyncClient, Depends(fake_idp.client)]`, exactly as an app would
        reach a real provider over the network. Every request has a time limit of 5 seconds.
        """
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url=self.base_url, timeout=CLIENT_SECONDS) as client:
            yield client

    async def authorize(self, idp: httpx.AsyncClient, *, state: str, challenge: str, login: str = "ada") -> str:
        """Do what a browser does at the IdP for `login`, a user who says yes; returns the code sent back.

        `idp` is any client whose base URL is the IdP (`app_client(fake_idp.app, base_url=...)`). The request
        asks for `openid email profile` with the S256 `challenge`. Fails (CheckFailed) when the IdP does
        not answer 302 (an unknown user, say), or does not answer within 5 seconds.
        """
        __tracebackhide__ = True  # show the learner's line, not this helper
        query = {"response_type": "code", "client_id": self.client_id, "redirect_uri": self.redirect_uri,
                 "scope": "openid email profile", "state": state, "code_challenge": challenge,
                 "code_challenge_method": "S256", "login_hint": login}
        r = await within(idp.get("/authorize", params=query), CLIENT_SECONDS, "the fake IdP's /authorize")
        expect_status(r, 302, hint="the fake IdP refused the authorization request")
        return parse_qs(urlsplit(r.headers["location"]).query)["code"][0]
