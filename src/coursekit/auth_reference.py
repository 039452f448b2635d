"""The course's own token issuer and token reader, for the authentication notebook (06).

Notebook 06 asks the learner to write a token issuer (exercise 2) and a bearer dependency
(exercise 4). Later exercises need working versions of both, whatever the learner wrote: a login
endpoint must hand out tokens, and a scopes exercise must read them. Giving those versions in the
notebook, right after the exercises, would show the answers. They live here instead, built from the
notebook's own settings object so that they use its secret, issuer, audience and lifetime:

    issue_token = reference_token_issuer(settings)
    token = issue_token("ada", ["reports:read"])                  # 15 minutes by default
    read_claims = reference_claims_reader(settings, oauth2_scheme)  # a FastAPI dependency

`settings` is any object with the attributes `jwt_secret` (a `str` or pydantic `SecretStr`),
`jwt_issuer`, `jwt_audience` and `access_token_minutes`. They are read on every call, so a test that
changes `settings.access_token_minutes` for a moment sees the change.
"""

# No `from __future__ import annotations`: FastAPI reads the dependency's annotation, which refers to
# `scheme`, a local name it could not resolve from a string.
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime, timedelta, timezone
from typing import Annotated, Any

import jwt
from fastapi import Depends, HTTPException

from .tokens import ALGORITHM, REQUIRED_CLAIMS, _secret, course_token_decoder


def reference_token_issuer(settings: Any) -> Callable[..., str]:
    """Return `issue_token(subject, scopes=(), expires_in=None) -> str`, signed with `settings`.

    The token is an HS256 JWT with the claims `sub`, `iss`, `aud`, `iat` (now, UTC), `exp` and
    `scope` (the scopes joined by spaces). `exp` is `iat + expires_in`; a zero or negative
    `expires_in` is honoured (the token is born expired), and only `None` falls back to
    `settings.access_token_minutes`.
    """

    def issue_token(subject: str, scopes: Iterable[str] = (), expires_in: timedelta | None = None) -> str:
        now = datetime.now(timezone.utc)
        lifetime = timedelta(minutes=settings.access_token_minutes) if expires_in is None else expires_in
        claims = {"sub": subject, "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
                  "iat": now, "exp": now + lifetime, "scope": " ".join(scopes)}
        return jwt.encode(claims, _secret(settings), algorithm=ALGORITHM)

    issue_token.__doc__ = "An HS256 access token for `subject` (the course's reference issuer)."
    return issue_token


def reference_claims_reader(settings: Any, scheme: Callable[..., Any]) -> Callable[[str], Awaitable[dict]]:
    """Return an async FastAPI dependency `read_claims(token) -> dict` that takes its token from `scheme`.

    It checks the token strictly (HS256 only, the settings' audience and issuer, every claim of
    `REQUIRED_CLAIMS` present, not expired) and returns its claims. Anything wrong with the token
    answers 401 `"Could not validate credentials"` with `WWW-Authenticate: Bearer`. It does not look
    up any user: the claims are all it returns.
    """

    decode = course_token_decoder(settings)  # the strict check

    async def read_claims(token: Annotated[str, Depends(scheme)]) -> dict:
        try:
            return decode(token)
        except jwt.InvalidTokenError:
            raise HTTPException(status_code=401, detail="Could not validate credentials",
                                headers={"WWW-Authenticate": "Bearer"}) from None

    return read_claims
