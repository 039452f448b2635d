"""An in-memory stand-in for the capstone's Agent API contract (notebook 13, exercise 10).

Exercise 10 asks the learner to write a test suite for five rules of the Agent API (registration,
login, chat, private conversations, the rate limit). The suite is graded like a mutation-testing tool
grades one: it must pass on an app that keeps the contract and fail on apps that break it. This
module builds those apps:

    app = agent_contract_app(rate_limit=3)                          # keeps the contract
    broken = agent_contract_app(rate_limit=3, bugs={"any-password"})  # breaks one rule

The broken variants live here, not in the notebook, so that the learner's page states the rules a
suite must check without listing the exact broken apps that grade it. The app keeps everything in
memory (no database) and hands out opaque tokens, so a suite must treat tokens as opaque strings.

The contract, under `/api/v1`:

- `POST /auth/register` `{"username", "password"}`: 201 `{"id", "username"}`; a taken username, 409.
- `POST /auth/token` (form `username`, `password`): 200 `{"access_token", "token_type", "expires_in"}`;
  a wrong password or an unknown user, 401 with `WWW-Authenticate: Bearer`.
- `GET /me` with `Authorization: Bearer <token>`: 200 `{"id", "username"}`; no or unknown token, 401.
- `POST /chat` `{"message", "conversation_id"?}`: 200 `{"conversation_id", "reply"}`; a message that is
  empty or only spaces (or over 4000 characters), 422; another user's conversation, 404.
- `GET /conversations/{id}`: 200 `{"id", "title", "messages"}` for its owner; 404 for anyone else.
- Each user may send `rate_limit` chat requests (valid or not); the next answers 429 with `Retry-After`.
"""

# No `from __future__ import annotations`: FastAPI reads annotations that refer to local names (`caller`).
import hashlib
import hmac
import secrets
from collections import Counter
from typing import Annotated

from fastapi import Depends, FastAPI, Header, HTTPException, Response
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel

from .fake_llm import FakeLLM

# Each bug breaks one part of one rule of the contract.
CONTRACT_BUGS = {
    "register-200": "a registration answers 200 instead of 201",
    "duplicate-usernames": "a username can be registered twice (no 409)",
    "any-password": "the login accepts any password",
    "wrong-password-400": "a wrong password answers 400 instead of 401",
    "me-refuses-tokens": "GET /api/v1/me refuses the tokens the login gives",
    "blank-messages": "a message of only spaces is accepted (no 422)",
    "no-reply": "the chat answers without a reply",
    "shared-conversations": "any user can read any conversation",
    "owner-locked-out": "a user cannot read their own conversation",
    "no-rate-limit": "there is no rate limit",
    "limit-too-early": "the last allowed chat request is already refused with 429",
    "no-retry-after": "the 429 has no Retry-After header",
}


class _SignUp(BaseModel):
    username: str
    password: str


class _Question(BaseModel):
    message: str
    conversation_id: int | None = None


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.sha256(salt + password.encode()).digest()  # a stand-in: fast on purpose, never for real passwords


def agent_contract_app(*, rate_limit: int = 3, bugs: set[str] | frozenset[str] = frozenset()) -> FastAPI:
    """A fresh in-memory app that keeps the Agent API contract, or breaks the rules named in `bugs`.

    `bugs` takes names from `CONTRACT_BUGS`; an unknown name raises `ValueError`. Every call builds a
    new app with no users, so a suite can run on it from a clean start.
    """
    unknown = set(bugs) - set(CONTRACT_BUGS)
    if unknown:
        raise ValueError(f"unknown bugs: {sorted(unknown)}")
    llm = FakeLLM()
    users: dict[str, dict] = {}          # username -> {"id", "username", "salt", "hash"}
    sessions: dict[str, str] = {}        # token -> username
    conversations: dict[int, dict] = {}  # id -> {"owner", "title", "messages"}
    chats: Counter[str] = Counter()      # username -> chat requests received
    app = FastAPI(title="Agent API contract (in-memory stand-in)")

    def password_ok(user: dict, password: str) -> bool:
        return hmac.compare_digest(_hash(password, user["salt"]), user["hash"])

    def caller(authorization: Annotated[str | None, Header()] = None) -> dict:
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or token not in sessions:
            raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
        return users[sessions[token]]

    def count_chat(who: Annotated[dict, Depends(caller)]) -> None:
        chats[who["username"]] += 1
        limit = rate_limit - 1 if "limit-too-early" in bugs else rate_limit
        if chats[who["username"]] > limit and "no-rate-limit" not in bugs:
            raise HTTPException(429, "Too many requests, slow down",
                                headers={} if "no-retry-after" in bugs else {"Retry-After": "60"})

    @app.post("/api/v1/auth/register", status_code=201)
    def register(body: _SignUp, response: Response) -> dict:
        if body.username in users and "duplicate-usernames" not in bugs:
            raise HTTPException(409, "Username already taken")
        salt = secrets.token_bytes(16)
        users[body.username] = {"id": len(users) + 1, "username": body.username, "salt": salt,
                                "hash": _hash(body.password, salt)}
        if "register-200" in bugs:
            response.status_code = 200
        return {"id": users[body.username]["id"], "username": body.username}

    @app.post("/api/v1/auth/token")
    def token(form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> dict:
        user = users.get(form.username)
        if "wrong-password-400" in bugs and user is not None and not password_ok(user, form.password):
            raise HTTPException(400, "Incorrect username or password")
        if user is None or not ("any-password" in bugs or password_ok(user, form.password)):
            raise HTTPException(401, "Incorrect username or password", headers={"WWW-Authenticate": "Bearer"})
        issued = secrets.token_urlsafe(16)
        sessions[issued] = form.username
        return {"access_token": issued, "token_type": "bearer", "expires_in": 900}

    @app.get("/api/v1/me")
    def whoami(who: Annotated[dict, Depends(caller)]) -> dict:
        if "me-refuses-tokens" in bugs:
            raise HTTPException(401, "Not authenticated", headers={"WWW-Authenticate": "Bearer"})
        return {"id": who["id"], "username": who["username"]}

    @app.post("/api/v1/chat", dependencies=[Depends(count_chat)])
    def chat(body: _Question, who: Annotated[dict, Depends(caller)]) -> dict:
        text = body.message if "blank-messages" in bugs else body.message.strip()
        if not text or len(text) > 4000:
            raise HTTPException(422, "message must be 1 to 4000 characters")
        if body.conversation_id is None:
            conversation_id = len(conversations) + 1
            conversations[conversation_id] = {"owner": who["username"], "title": text[:50], "messages": []}
        else:
            conversation_id = body.conversation_id
            if conversations.get(conversation_id, {}).get("owner") != who["username"]:
                raise HTTPException(404, "Conversation not found")
        reply = llm.reply_for(text)
        conversations[conversation_id]["messages"] += [{"role": "user", "content": text},
                                                       {"role": "assistant", "content": reply}]
        if "no-reply" in bugs:
            return {"conversation_id": conversation_id}
        return {"conversation_id": conversation_id, "reply": reply}

    @app.get("/api/v1/conversations/{conversation_id}")
    def conversation(conversation_id: int, who: Annotated[dict, Depends(caller)]) -> dict:
        found = conversations.get(conversation_id)
        if "owner-locked-out" in bugs and found is not None and found["owner"] == who["username"]:
            raise HTTPException(404, "Conversation not found")
        if found is None or (found["owner"] != who["username"] and "shared-conversations" not in bugs):
            raise HTTPException(404, "Conversation not found")
        return {"id": conversation_id, "title": found["title"], "messages": found["messages"]}

    return app
