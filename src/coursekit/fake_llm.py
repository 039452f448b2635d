"""A deterministic stand-in for a language model: no network, no API key, same answer every time.

    llm = FakeLLM(latency=0.2, token_delay=0.01)
    text = await llm.complete("How do I get a refund?")
    async for token in llm.astream("Tell me a joke"):
        ...

Replies come from data/fake_llm.json. The model keeps counters that tests read
to prove behaviour by counting instead of by timing:

    llm.calls          calls started (complete and astream)
    llm.active         calls in progress now
    llm.peak_active    the most calls that were ever in progress at the same time
    llm.completed      calls that finished normally
    llm.failed         calls that raised an injected failure
    llm.cancelled      calls abandoned by their caller (cancelled, or a stream closed early)
    llm.tokens_streamed tokens handed out by astream
    llm.prompts        every prompt received, in order

Failures are injected on purpose, like a real provider having a bad day:

    llm.fail_next("rate_limit")              # the next call raises RateLimitError
    llm.fail_next("timeout", times=2)        # the next two raise UpstreamTimeout
    llm.fail_next("rate_limit", after_tokens=3)  # a stream breaks after 3 tokens
    llm.fail_next("hang")                    # the next call never answers
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Literal

from ._data import load_json

FailureKind = Literal["rate_limit", "timeout", "hang"]

_TOKEN = re.compile(r"\s*[\w']+|\s*[^\w\s]")


class FakeLLMError(Exception):
    """Base class of the errors the fake model can be told to raise."""


class RateLimitError(FakeLLMError):
    """The provider refused the call: too many requests. `retry_after` is in seconds."""

    def __init__(self, retry_after: float = 1.0) -> None:
        super().__init__(f"rate limit exceeded, retry after {retry_after:g} s")
        self.retry_after = retry_after


class UpstreamTimeout(FakeLLMError):
    """The provider did not answer in time."""

    def __init__(self) -> None:
        super().__init__("the model provider timed out")


@dataclass(frozen=True)
class _Failure:
    kind: FailureKind
    after_tokens: int
    retry_after: float = 1.0


def tokenize(text: str) -> list[str]:
    """Split text into word and punctuation tokens; "".join(tokenize(t)) == t for trimmed text."""
    return _TOKEN.findall(text)


def count_tokens(text: str) -> int:
    """How many tokens `tokenize` finds in `text`."""
    return len(tokenize(text))


class FakeLLM:
    """A fake model with configurable latency, failure injection and call counters."""

    HANG_SECONDS = 3600.0

    def __init__(self, *, latency: float = 0.0, token_delay: float = 0.0, model: str | None = None) -> None:
        script = load_json("fake_llm.json")
        self.model: str = model or script["model"]
        self.latency = latency
        self.token_delay = token_delay
        self._rules: list[tuple[list[str], str]] = [
            ([k.lower() for k in rule["keywords"]], rule["reply"]) for rule in script["rules"]
        ]
        self._fallbacks: list[str] = script["fallbacks"]
        self._failures: deque[_Failure] = deque()
        self._lock = threading.Lock()  # a real server runs the app in another thread
        self.reset()

    # -- what the model would say -------------------------------------------------
    def reply_for(self, prompt: str) -> str:
        """The reply complete() gives for `prompt` (no call is counted)."""
        lowered = prompt.lower()
        for keywords, reply in self._rules:
            if any(k in lowered for k in keywords):
                return reply
        digest = hashlib.sha256(prompt.encode("utf-8", "surrogatepass")).digest()
        return self._fallbacks[digest[0] % len(self._fallbacks)]

    def tokens_for(self, prompt: str, max_tokens: int | None = None) -> list[str]:
        """The tokens astream() yields for `prompt` (no call is counted)."""
        tokens = tokenize(self.reply_for(prompt))
        return tokens if max_tokens is None else tokens[:max_tokens]

    # -- failure injection and counters ---------------------------------------------
    def fail_next(self, kind: FailureKind = "rate_limit", *, times: int = 1, after_tokens: int = 0,
                  retry_after: float = 1.0) -> None:
        """Make the next `times` calls fail with `kind` (streams after `after_tokens` tokens);
        a rate limit says to retry after `retry_after` seconds."""
        if kind not in ("rate_limit", "timeout", "hang"):
            raise ValueError(f"unknown failure kind {kind!r}: use 'rate_limit', 'timeout' or 'hang'")
        with self._lock:
            self._failures.extend(_Failure(kind, after_tokens, retry_after) for _ in range(times))

    def reset(self) -> None:
        """Zero every counter and forget pending failures."""
        with self._lock:
            self.calls = self.active = self.peak_active = 0
            self.completed = self.failed = self.cancelled = self.tokens_streamed = 0
            self.prompts: list[str] = []
            self._failures.clear()

    def stats(self) -> dict[str, int]:
        """The counters as a dict (handy to print)."""
        return {
            "calls": self.calls,
            "active": self.active,
            "peak_active": self.peak_active,
            "completed": self.completed,
            "failed": self.failed,
            "cancelled": self.cancelled,
            "tokens_streamed": self.tokens_streamed,
        }

    def _start(self, prompt: str) -> _Failure | None:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.peak_active = max(self.peak_active, self.active)
            self.prompts.append(prompt)
            return self._failures.popleft() if self._failures else None

    def _finish(self, outcome: Literal["completed", "failed", "cancelled"]) -> None:
        with self._lock:
            self.active -= 1
            setattr(self, outcome, getattr(self, outcome) + 1)

    async def _raise(self, failure: _Failure) -> None:
        if failure.kind == "hang":
            await asyncio.sleep(self.HANG_SECONDS)
        if failure.kind == "timeout":
            raise UpstreamTimeout()
        raise RateLimitError(failure.retry_after)

    # -- the model's API --------------------------------------------------------------
    async def complete(self, prompt: str, *, max_tokens: int | None = None) -> str:
        """The whole reply, after `latency` seconds."""
        failure = self._start(prompt)
        outcome: Literal["completed", "failed", "cancelled"] = "failed"
        try:
            await asyncio.sleep(self.latency)
            if failure is not None:
                await self._raise(failure)
            outcome = "completed"
            return "".join(self.tokens_for(prompt, max_tokens))
        except (asyncio.CancelledError, GeneratorExit):
            outcome = "cancelled"
            raise
        finally:
            self._finish(outcome)

    async def astream(self, prompt: str, *, max_tokens: int | None = None) -> AsyncIterator[str]:
        """The reply token by token: the first after `latency`, then one every `token_delay` s."""
        failure = self._start(prompt)
        outcome: Literal["completed", "failed", "cancelled"] = "failed"
        try:
            await asyncio.sleep(self.latency)
            for index, token in enumerate(self.tokens_for(prompt, max_tokens)):
                if failure is not None and index == failure.after_tokens:
                    await self._raise(failure)
                if index:
                    await asyncio.sleep(self.token_delay)
                with self._lock:
                    self.tokens_streamed += 1
                yield token
            if failure is not None:  # failing after the last token
                await self._raise(failure)
            outcome = "completed"
        except (asyncio.CancelledError, GeneratorExit):
            outcome = "cancelled"
            raise
        finally:
            self._finish(outcome)
