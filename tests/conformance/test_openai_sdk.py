"""The official `openai` SDK against notebook 08's OpenAI-compatible streams, on real sockets.

Exercise 3's `openai_app` is read with the synchronous and the asynchronous client (`stream=True`); the
practice provider (section 7) is driven to fail before the first token (429), mid-stream (its "error"
scenario) and by its fake model itself (`fail_next`, through a control route added only for this test).
The expected text is computed here, from a `FakeLLM` of this process, not copied from the solution.
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

import httpx
import openai
import pytest

from coursekit import FakeLLM
from served import served

pytestmark = pytest.mark.xdist_group("conformance-openai-sdk")

API_KEY = "not-needed-locally"  # the notebook's servers check no key; the SDK insists on one
TIMEOUT = 10.0  # seconds, for every request of every client
PROMPT = "Can you stream the answer?"
MODEL = FakeLLM()  # same data file and settings as the notebook's models: the same replies

# Added to the served kernel only: lets a test call `llm.fail_next(...)` in the server's process.
PRELUDE = '''
def _with_failure_control(app, llm):
    """A POST /_conformance/fail_next route on `app` that makes `llm`'s next call fail."""
    @app.post("/_conformance/fail_next")
    def _fail_next(kind: str = "rate_limit", after_tokens: int = 0) -> dict:
        llm.fail_next(kind, after_tokens=after_tokens)
        return {"pending": kind}
    return app
'''


@pytest.fixture(scope="module")
def urls():
    apps = {"openai": "openai_app", "provider": "_with_failure_control(provider_app, provider_llm)"}
    with served("08_streaming", apps, prelude=PRELUDE) as urls:
        yield urls


def sync_client(base: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=base + "/v1", api_key=API_KEY, max_retries=0, timeout=TIMEOUT)


def async_client(base: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=base + "/v1", api_key=API_KEY, max_retries=0, timeout=TIMEOUT)


def messages(content: str) -> list[dict]:
    return [{"role": "user", "content": content}]


def fail_next(base: str, kind: str, after_tokens: int) -> None:
    request = urllib.request.Request(f"{base}/_conformance/fail_next?kind={kind}&after_tokens={after_tokens}", method="POST")
    with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
        assert response.status == 200


def check_reply(chunks: list, prompt: str) -> None:
    """Every chunk parsed into the SDK's type; contents spell FakeLLM's reply; one id; stop on the last chunk."""
    assert chunks, "the stream gave no chunks"
    assert all(isinstance(c, openai.types.chat.ChatCompletionChunk) for c in chunks)
    assert all(c.object == "chat.completion.chunk" and c.model == MODEL.model for c in chunks)
    contents = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert contents == MODEL.tokens_for(prompt)
    assert "".join(contents) == MODEL.reply_for(prompt)
    ids = {c.id for c in chunks}
    assert len(ids) == 1 and chunks[0].id.startswith("chatcmpl-"), ids
    assert all(abs(c.created - time.time()) < 120 for c in chunks)
    assert [c.choices[0].finish_reason for c in chunks[:-1]] == [None] * (len(chunks) - 1)
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_sync_client_streams_exercise_3(urls):
    with sync_client(urls["openai"]) as client:
        stream = client.chat.completions.create(model=MODEL.model, messages=messages(PROMPT), stream=True)
        with stream:
            chunks = list(stream)  # ends at [DONE]: the SDK stops reading there
        assert stream.response.status_code == 200
        assert stream.response.headers["content-type"].startswith("text/event-stream")
        assert stream.response.is_closed
        check_reply(chunks, PROMPT)
        again = list(client.chat.completions.create(model=MODEL.model, messages=messages("hello there"), stream=True))
        check_reply(again, "hello there")
        assert again[0].id != chunks[0].id, "each reply has its own id"


def test_stream_ends_at_done(urls):
    # The SDK stops at [DONE] silently and also stops silently when a connection just ends: look at the wire.
    body = {"model": MODEL.model, "messages": messages(PROMPT), "stream": True}
    with httpx.Client(timeout=TIMEOUT) as client:
        response = client.post(urls["openai"] + "/v1/chat/completions", json=body)
    events = [block for block in response.text.split("\n\n") if block.strip()]
    assert events[-1] == "data: [DONE]", events[-2:]
    assert response.text.endswith("data: [DONE]\n\n")


def test_async_client_streams_exercise_3_concurrently(urls):
    async def one(client: openai.AsyncOpenAI, prompt: str) -> list:
        stream = await client.chat.completions.create(model=MODEL.model, messages=messages(prompt), stream=True)
        async with stream:
            return [chunk async for chunk in stream]

    async def main() -> tuple[list, list]:
        async with async_client(urls["openai"]) as client:
            return await asyncio.wait_for(asyncio.gather(one(client, PROMPT), one(client, "Tell me a joke")), TIMEOUT)

    first, second = asyncio.run(main())
    check_reply(first, PROMPT)
    check_reply(second, "Tell me a joke")
    assert first[0].id != second[0].id


def read_until_error(client: openai.OpenAI, **extra) -> tuple[list, openai.APIError]:
    chunks = []
    stream = client.chat.completions.create(model=MODEL.model, messages=messages("Tell me a joke"), stream=True, **extra)
    with pytest.raises(openai.APIError) as caught:
        with stream:
            for chunk in stream:
                chunks.append(chunk)
    return chunks, caught.value


def contents(chunks: list) -> list[str]:
    return [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]


def test_error_mid_stream_raises_api_error(urls):
    with sync_client(urls["provider"]) as client:
        chunks, error = read_until_error(client, extra_body={"scenario": "error"})
    assert type(error) is openai.APIError, f"a plain APIError from the stream, not {type(error).__name__}: {error}"
    assert error.message == "the upstream model is overloaded"
    assert error.body == {"message": "the upstream model is overloaded", "type": "rate_limit_error", "code": "rate_limit_exceeded"}
    assert contents(chunks) == MODEL.tokens_for("Tell me a joke")[:3]


@pytest.mark.parametrize(("kind", "message", "error_type"), [
    ("rate_limit", "rate limit exceeded, retry after 1 s", "rate_limit_error"),
    ("timeout", "the model provider timed out", "timeout_error"),
])
def test_model_failure_mid_stream_raises_api_error(urls, kind, message, error_type):
    fail_next(urls["provider"], kind, after_tokens=4)
    with sync_client(urls["provider"]) as client:
        chunks, error = read_until_error(client)
    assert type(error) is openai.APIError, f"a model failure mid-stream should reach the SDK as an error event, got {type(error).__name__}: {error}"
    assert error.message == message and error.body["type"] == error_type
    assert contents(chunks) == MODEL.tokens_for("Tell me a joke")[:4]


def test_model_failure_mid_stream_async(urls):
    async def main() -> tuple[list, BaseException]:
        chunks = []
        async with async_client(urls["provider"]) as client:
            stream = await client.chat.completions.create(model=MODEL.model, messages=messages(PROMPT), stream=True)
            try:
                async with stream:
                    async for chunk in stream:
                        chunks.append(chunk)
            except openai.APIError as exc:
                return chunks, exc
        raise AssertionError(f"the stream ended without an error after {len(chunks)} chunks")

    fail_next(urls["provider"], "rate_limit", after_tokens=2)
    chunks, error = asyncio.run(asyncio.wait_for(main(), TIMEOUT))
    assert type(error) is openai.APIError and error.message == "rate limit exceeded, retry after 1 s"
    assert contents(chunks) == MODEL.tokens_for(PROMPT)[:2]


def test_429_before_first_token_is_a_rate_limit_error(urls):
    with sync_client(urls["provider"]) as client:
        with pytest.raises(openai.RateLimitError) as caught:
            client.chat.completions.create(model=MODEL.model, messages=messages("hello"), stream=True,
                                           extra_body={"scenario": "busy"})
    error = caught.value
    assert error.status_code == 429
    assert error.response.headers["retry-after"] == "2"
    assert error.body == {"detail": "too many requests"} or error.body == "too many requests", error.body


def test_invalid_request_is_unprocessable(urls):
    with sync_client(urls["openai"]) as client:
        with pytest.raises(openai.UnprocessableEntityError) as caught:
            client.chat.completions.create(model=MODEL.model, messages=[], stream=True)
    assert caught.value.status_code == 422
    assert "messages" in json.dumps(caught.value.body)
