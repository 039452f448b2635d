"""Tokens for tests and demos: the strict check, a forger's toolbox, and a stand-in token service.

Used by the authentication notebook (06) and the capstone (13). A test of an authentication layer needs
tokens that are *almost* right: signed with another key or another algorithm, expired, for another audience,
missing a claim, edited after signing, or not signed at all. These helpers make them, so that the notebooks'
test cells can say what they try in one line:

    decode_course_token = course_token_decoder(settings)   # the strict check; raises jwt.InvalidTokenError
    make_claims = course_claims_maker(settings)            # the claims of a valid token, to change
    sign_token = course_token_signer(settings)             # sign them (with the course secret by default)
    sign_token(make_claims(aud="billing-api"))             # a token for another API
    unsigned_token(make_claims())                          # "alg": "none", no signature
    tampered_token(good, sub="admin")                      # the payload edited, the old signature kept

`settings` is any object with the attributes `jwt_secret` (a `str` or pydantic `SecretStr`), `jwt_issuer`
and `jwt_audience`, read on every call. `OpaqueTokens` is the capstone's stand-in token service.

Why a module of its own: `auth_reference` holds working versions of what notebook 06's exercises ask for
(later exercises build on them); this module holds test tools, shared by two notebooks. The strict check
lives here and `auth_reference`'s claims reader uses it, so the course checks tokens one way only.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import jwt
from jwt.warnings import InsecureKeyLengthWarning

ALGORITHM = "HS256"                                   # the only algorithm a course token may use
REQUIRED_CLAIMS = ("sub", "exp", "iat", "iss", "aud")  # a claim that is absent is not checked unless required
FORGED_TOKEN_MINUTES = 5                               # the lifetime of make_claims()'s tokens


def _secret(settings: Any) -> str:
    secret = settings.jwt_secret
    return secret.get_secret_value() if hasattr(secret, "get_secret_value") else str(secret)


def _b64url_json(data: dict) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _read_b64url_json(part: str) -> dict:
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def course_token_decoder(settings: Any) -> Callable[[str], dict]:
    """Return `decode_course_token(token) -> dict`, the strict check of a course token.

    It returns the token's claims when the token is an HS256 JWT signed with the settings' secret, for
    the settings' audience, from their issuer, not expired, and carrying every claim of `REQUIRED_CLAIMS`.
    Otherwise it raises a subclass of `jwt.InvalidTokenError` that names the problem (for example
    `InvalidAlgorithmError`, `ExpiredSignatureError`, `InvalidAudienceError`, `MissingRequiredClaimError`).
    The algorithm is pinned: the token's header never chooses it.
    """

    def decode_course_token(token: str) -> dict:
        return jwt.decode(token, _secret(settings), algorithms=[ALGORITHM], audience=settings.jwt_audience,
                          issuer=settings.jwt_issuer, options={"require": list(REQUIRED_CLAIMS)})

    decode_course_token.__doc__ = ("The claims of a valid course token (HS256 only, our audience and issuer, "
                                   "sub/exp/iat/iss/aud required); raises jwt.InvalidTokenError otherwise.")
    return decode_course_token


def course_claims_maker(settings: Any) -> Callable[..., dict]:
    """Return `make_claims(**changes) -> dict`: the claims of a valid course token, changed as asked.

    Without changes the claims are `sub` "ada", the settings' `iss` and `aud`, `iat` now (UTC), `exp` five
    minutes later, and an empty `scope`. `claim=value` sets a claim (new or not); `claim=None` removes it,
    to make a token that lacks it. Times are aware datetimes; PyJWT turns them into numbers when signing.
    """

    def make_claims(**changes: Any) -> dict:
        now = datetime.now(timezone.utc)
        claims = {"sub": "ada", "iss": settings.jwt_issuer, "aud": settings.jwt_audience,
                  "iat": now, "exp": now + timedelta(minutes=FORGED_TOKEN_MINUTES), "scope": ""}
        for name, value in changes.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        return claims

    make_claims.__doc__ = "The claims of a valid course token; claim=value changes one, claim=None removes it."
    return make_claims


def course_token_signer(settings: Any) -> Callable[..., str]:
    """Return `sign_token(claims, *, key=None, algorithm="HS256") -> str`, which signs `claims` as a JWT.

    The key is the settings' secret unless `key` gives another one; `algorithm` may be any HMAC algorithm
    (HS256, HS384, HS512). PyJWT's warning about short keys is silenced, because short keys are part of
    some attacks that tests try. The claims are signed as given: nothing is added, not even `exp`.
    """

    def sign_token(claims: dict, *, key: str | None = None, algorithm: str = ALGORITHM) -> str:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", InsecureKeyLengthWarning)
            return jwt.encode(claims, key or _secret(settings), algorithm=algorithm)

    sign_token.__doc__ = "Sign claims as a JWT with the course secret (or key=...), HS256 unless algorithm=... says."
    return sign_token


def unsigned_token(claims: dict) -> str:
    """A token whose header says `"alg": "none"` and whose signature is empty: `<header>.<payload>.`

    Datetimes among the claims become whole seconds since the epoch, as in a signed JWT. A strict check
    (an algorithm list without "none") must refuse it.
    """
    numbers = {name: int(value.timestamp()) if isinstance(value, datetime) else value
               for name, value in claims.items()}
    return f"{_b64url_json({'alg': 'none', 'typ': 'JWT'})}.{_b64url_json(numbers)}."


def tampered_token(token: str, **changes: Any) -> str:
    """The signed JWT `token` with claims changed in its payload and its old signature kept.

    `tampered_token(token, sub="admin")` is what an attacker who edits a token gets: its header and
    signature are untouched, so a check of the signature must refuse it. The changed values must be
    JSON values (give times as numbers). Raises ValueError when `token` does not have three parts.
    """
    header, payload, signature = token.split(".")
    return f"{header}.{_b64url_json({**_read_b64url_json(payload), **changes})}.{signature}"


class OpaqueTokens:
    """A stand-in token service: random strings, remembered in memory with their owner and expiry.

    It keeps the token-service contract of the capstone (13): `OpaqueTokens(settings)`, then
    `issue(user_id) -> str` and `verify(token) -> int | None`. Opaque tokens stored on the server are a
    real design, but these live in one process's memory: they are lost on restart and not shared between
    workers. A token expires after `settings.access_token_minutes` minutes, like the course's JWTs.
    """

    def __init__(self, settings: Any, clock: Callable[[], float] = time.monotonic) -> None:
        """A service with no tokens yet. `settings.access_token_minutes` is read at each issue();
        `clock` gives the time in seconds (a test may pass a ManualClock)."""
        self._settings = settings
        self._clock = clock
        self._owners: dict[str, tuple[int, float]] = {}   # token -> (user id, when it expires, by `clock`)

    def issue(self, user_id: int) -> str:
        """A new random token (32 URL-safe characters) for `user_id`."""
        token = secrets.token_urlsafe(24)
        expires = self._clock() + 60 * self._settings.access_token_minutes
        self._owners[token] = (user_id, expires)
        return token

    def verify(self, token: str) -> int | None:
        """The user id the token was issued for; None for an unknown or expired token."""
        owner = self._owners.get(token)
        if owner is None or self._clock() >= owner[1]:
            return None
        return owner[0]
