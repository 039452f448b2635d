"""Specification of coursekit.tokens (notebooks 06 and 13) and of the reference claims reader built on it."""

from __future__ import annotations

import base64
import json
import secrets
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import jwt
import pytest
from pydantic import SecretStr

from coursekit import (
    ManualClock,
    OpaqueTokens,
    course_claims_maker,
    course_token_decoder,
    course_token_signer,
    tampered_token,
    unsigned_token,
)


@pytest.fixture
def settings():
    return SimpleNamespace(jwt_secret=SecretStr(secrets.token_urlsafe(48)), jwt_issuer="https://auth.test",
                           jwt_audience="test-api", access_token_minutes=15)


@pytest.fixture
def make_claims(settings):
    return course_claims_maker(settings)


@pytest.fixture
def sign_token(settings):
    return course_token_signer(settings)


@pytest.fixture
def decode(settings):
    return course_token_decoder(settings)


def part(token: str, index: int) -> dict:
    piece = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(piece + "=" * (-len(piece) % 4)))


def test_make_claims_gives_the_claims_of_a_valid_five_minute_token(settings, make_claims):
    claims = make_claims()
    assert set(claims) == {"sub", "iss", "aud", "iat", "exp", "scope"}
    assert (claims["sub"], claims["iss"], claims["aud"], claims["scope"]) == ("ada", "https://auth.test", "test-api", "")
    assert claims["exp"] - claims["iat"] == timedelta(minutes=5)
    assert claims["iat"].tzinfo is not None


def test_make_claims_changes_adds_and_removes_claims(make_claims):
    claims = make_claims(sub="grace", role="admin", exp=None)
    assert claims["sub"] == "grace" and claims["role"] == "admin" and "exp" not in claims


def test_a_signed_valid_token_passes_the_strict_check(settings, make_claims, sign_token, decode):
    token = sign_token(make_claims(scope="reports:read"))
    assert part(token, 0)["alg"] == "HS256"
    claims = decode(token)
    assert claims["sub"] == "ada" and claims["scope"] == "reports:read"
    assert claims["exp"] - claims["iat"] == 300


def test_settings_are_read_on_every_call(settings, make_claims, sign_token, decode):
    settings.jwt_audience = "another-api"
    assert make_claims()["aud"] == "another-api"
    assert decode(sign_token(make_claims()))["aud"] == "another-api"


def test_a_plain_string_secret_works_too(make_claims):
    plain = SimpleNamespace(jwt_secret="x" * 40, jwt_issuer="i", jwt_audience="a")
    claims = course_claims_maker(plain)()
    assert course_token_decoder(plain)(course_token_signer(plain)(claims))["iss"] == "i"


@pytest.mark.parametrize(("forge", "error"), [
    (lambda make, sign: sign(make(), algorithm="HS512"), jwt.InvalidAlgorithmError),
    (lambda make, sign: sign(make(), key=secrets.token_urlsafe(64)), jwt.InvalidSignatureError),
    (lambda make, sign: sign(make(), key="short"), jwt.InvalidSignatureError),
    (lambda make, sign: sign(make(exp=datetime.now(timezone.utc) - timedelta(minutes=1))), jwt.ExpiredSignatureError),
    (lambda make, sign: sign(make(aud="billing-api")), jwt.InvalidAudienceError),
    (lambda make, sign: sign(make(iss="https://evil.example")), jwt.InvalidIssuerError),
    (lambda make, sign: sign(make(sub=None)), jwt.MissingRequiredClaimError),
    (lambda make, sign: sign(make(exp=None)), jwt.MissingRequiredClaimError),
    (lambda make, sign: sign(make(iat=None)), jwt.MissingRequiredClaimError),
    (lambda make, sign: sign(make(iss=None)), jwt.MissingRequiredClaimError),
    (lambda make, sign: sign(make(aud=None)), jwt.MissingRequiredClaimError),
    (lambda make, sign: unsigned_token(make()), jwt.InvalidAlgorithmError),
    (lambda make, sign: tampered_token(sign(make()), sub="admin"), jwt.InvalidSignatureError),
    (lambda make, sign: "not a token", jwt.DecodeError),
], ids=["HS512", "another-key", "short-key", "expired", "audience", "issuer", "no-sub", "no-exp", "no-iat",
        "no-iss", "no-aud", "alg-none", "tampered", "garbage"])
def test_the_strict_check_refuses_every_forged_token(make_claims, sign_token, decode, forge, error):
    with pytest.raises(error):
        decode(forge(make_claims, sign_token))


def test_sign_token_signs_exactly_the_claims_given(sign_token, settings):
    token = sign_token({"exp": 2_000_000_000})
    assert jwt.decode(token, settings.jwt_secret.get_secret_value(), algorithms=["HS256"]) == {"exp": 2_000_000_000}


def test_sign_token_keeps_pyjwt_quiet_about_short_keys(make_claims, sign_token, recwarn):
    sign_token(make_claims(), key="short")
    assert not recwarn.list


def test_unsigned_token_says_alg_none_and_has_an_empty_signature(make_claims):
    claims = make_claims()
    token = unsigned_token(claims)
    assert token.endswith(".") and token.count(".") == 2
    assert part(token, 0) == {"alg": "none", "typ": "JWT"}
    payload = part(token, 1)
    assert payload["exp"] == int(claims["exp"].timestamp()) and payload["sub"] == "ada"


def test_tampered_token_changes_the_payload_and_keeps_header_and_signature(make_claims, sign_token, settings):
    good = sign_token(make_claims())
    bad = tampered_token(good, sub="admin", role="root")
    assert bad.split(".")[0] == good.split(".")[0] and bad.split(".")[2] == good.split(".")[2]
    assert part(bad, 1)["sub"] == "admin" and part(bad, 1)["role"] == "root"
    assert part(bad, 1)["aud"] == "test-api"
    with pytest.raises(ValueError):
        tampered_token("only.two")


def test_opaque_tokens_remember_their_owner_and_refuse_unknown_tokens(settings):
    service = OpaqueTokens(settings)
    first, second = service.issue(1), service.issue(2)
    assert first != second and len(first) == 32
    assert (service.verify(first), service.verify(second)) == (1, 2)
    assert service.verify("made-up") is None
    assert OpaqueTokens(settings).verify(first) is None      # another service (a restart) knows nothing


def test_opaque_tokens_expire_after_the_settings_lifetime(settings):
    clock = ManualClock(1000.0)
    settings.access_token_minutes = 5
    service = OpaqueTokens(settings, clock=clock)
    token = service.issue(7)
    clock.advance(5 * 60 - 1)
    assert service.verify(token) == 7
    clock.advance(1)
    assert service.verify(token) is None
