"""Run an app on a real uvicorn server inside the kernel.

    with serve(app) as server:
        async with server.client() as client:
            ...

The server listens on 127.0.0.1 on a free port, in a background thread with its
own event loop, and stops when the `with` block ends, also when the block fails.
Use it where the in-process client falls short: bodies that must arrive piece
by piece (time to first token), clients that disconnect, real sockets.

Uvicorn's own log lines go to stdout at WARNING level: nbgrader gives a test
cell zero when anything is written to stderr.
"""

from __future__ import annotations

import logging
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from .client import DEFAULT_TIMEOUT, CourseClient


class _StdoutHandler(logging.StreamHandler):
    """A handler that writes to whatever sys.stdout is now (the kernel swaps it per cell)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stdout

    @stream.setter
    def stream(self, value) -> None:  # logging.StreamHandler assigns it; we always use sys.stdout
        pass


def _route_uvicorn_logs_to_stdout() -> None:
    for name in ("uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        if not any(isinstance(h, _StdoutHandler) for h in logger.handlers):
            handler = _StdoutHandler()
            handler.setFormatter(logging.Formatter("[uvicorn] %(levelname)s %(message)s"))
            logger.addHandler(handler)
        logger.setLevel(logging.WARNING)
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True


class RunningServer:
    """A server started by `serve()`: its address and a client for it."""

    def __init__(self, server: uvicorn.Server, host: str, port: int) -> None:
        self._server = server
        self.host = host
        self.port = port
        self.url = f"http://{host}:{port}"
        self.ws_url = f"ws://{host}:{port}"

    def client(self, timeout: float = DEFAULT_TIMEOUT, **kwargs: Any) -> CourseClient:
        """An httpx client for this server whose requests have a time limit (use `async with`)."""
        return CourseClient(base_url=self.url, request_timeout=timeout, **kwargs)


@contextmanager
def serve(
    app: Any,
    *,
    startup_timeout: float = 10.0,
    shutdown_timeout: float = 5.0,
    **config: Any,
) -> Iterator[RunningServer]:
    """Serve `app` with uvicorn on 127.0.0.1 and a free port for the duration of the block.

    Extra keyword arguments go to uvicorn.Config (for example lifespan="off").
    """
    _route_uvicorn_logs_to_stdout()
    # Name the protocol: asyncio sets TCP_NODELAY only on sockets it recognises as TCP, and
    # without it every request after the first on a kept-alive connection waits ~40 ms (Nagle).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    host, port = sock.getsockname()
    config.setdefault("log_config", None)
    config.setdefault("access_log", False)
    config.setdefault("timeout_graceful_shutdown", shutdown_timeout / 2)
    server = uvicorn.Server(uvicorn.Config(app, **config))
    failure: list[BaseException] = []

    def run() -> None:
        try:
            server.run(sockets=[sock])
        except BaseException as exc:  # SystemExit from uvicorn when start-up fails
            failure.append(exc)

    thread = threading.Thread(target=run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive() or failure:
                raise RuntimeError(
                    "The server stopped during start-up (did the app's lifespan raise? "
                    "its error is printed above)."
                )
            if time.monotonic() > deadline:
                raise RuntimeError(f"The server did not start within {startup_timeout:g} s.")
            time.sleep(0.01)
        yield RunningServer(server, host, port)
    finally:
        server.should_exit = True
        thread.join(shutdown_timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(shutdown_timeout)
        sock.close()
