"""A real WSGI server in a background thread, for Flask and Django apps: notebook 10 (frameworks compared).

    with serve_wsgi(flask_app, threads=4) as server:
        async with server.client() as client:
            r = await client.get("/fast")

It is the WSGI counterpart of `serve()` (Uvicorn, for ASGI apps). Gunicorn loads
an app from an importable module, and an app defined in a notebook cell is not
one; so this server is built from the standard library (`wsgiref`) with a fixed
pool of worker threads: each accepted connection waits in a queue until a thread
is free, and that thread serves the request from start to finish. That is WSGI's
model, "one request per thread", with N threads standing in for
`gunicorn --threads N` or N sync workers.

It listens on 127.0.0.1 and a free port only. Its access log is off; the errors
of apps (their wsgi.errors stream) and of the server go to stdout, because
nbgrader gives a test cell zero when anything is written to stderr.
"""

from __future__ import annotations

import queue
import socket
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from .client import CourseClient

# Seconds that serve_wsgi waits, at the end of its block, for the accept loop and then for the worker threads.
_STOP_TIMEOUT = 5.0


class _QuietHandler(WSGIRequestHandler):
    """wsgiref's request handler without the access log, with the app's error stream on stdout."""

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the name wsgiref uses)
        pass

    def get_stderr(self):  # the app's wsgi.errors stream (Flask logs its errors there)
        return sys.stdout


class PooledWSGIServer(WSGIServer):
    """wsgiref's server with a fixed pool of worker threads: one request per thread, the rest wait in a queue.

    Arguments:
        app: the WSGI app (a Flask app, Django's WSGIHandler, any `app(environ, start_response)`).
        threads: how many requests it serves at the same time.

    It binds 127.0.0.1 and a free port when created and starts its worker threads at once; run
    `serve_forever()` to accept connections. `serve_wsgi` does all that, and the stopping, for you.
    """

    request_queue_size = 128  # the listen backlog: room for every connection of a burst

    def __init__(self, app: Any, threads: int) -> None:
        super().__init__(("127.0.0.1", 0), _QuietHandler)
        self.set_app(app)
        self._jobs: queue.Queue = queue.Queue()
        self._workers = [threading.Thread(target=self._work, name=f"wsgi-worker-{i}", daemon=True)
                         for i in range(threads)]
        for worker in self._workers:
            worker.start()

    def process_request(self, request: socket.socket, client_address: Any) -> None:
        """Called for each accepted connection: queue it for the next free worker thread."""
        self._jobs.put((request, client_address))

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            connection, client_address = job
            try:
                self.finish_request(connection, client_address)  # the whole request, in this thread
            except Exception:
                self.handle_error(connection, client_address)
            finally:
                self.shutdown_request(connection)

    def handle_error(self, request: socket.socket, client_address: Any) -> None:
        """Say, on stdout, that serving a connection failed (socketserver would print a traceback to stderr)."""
        print(f"[wsgi server] error while serving {client_address}: {sys.exc_info()[1]!r}")

    def stop_workers(self, timeout: float) -> bool:
        """Ask each worker thread to finish once its current request is done; wait up to `timeout` seconds in all.

        Returns True if every worker thread has ended, False if one is still serving a request.
        """
        for _ in self._workers:
            self._jobs.put(None)
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        return not any(worker.is_alive() for worker in self._workers)


class RunningWSGIServer:
    """A server started by `serve_wsgi()`: .host, .port, .url, .threads, and a client for it."""

    def __init__(self, server: PooledWSGIServer, threads: int) -> None:
        self.host, self.port = server.server_address[:2]
        self.url = f"http://{self.host}:{self.port}"
        self.threads = threads

    def client(self, timeout: float = 5.0, **kwargs: Any) -> CourseClient:
        """An httpx client for this server whose requests have a time limit of `timeout` seconds (use `async with`)."""
        return CourseClient(base_url=self.url, request_timeout=timeout, **kwargs)


@contextmanager
def serve_wsgi(app: Any, *, threads: int = 4) -> Iterator[RunningWSGIServer]:
    """Serve a WSGI app on 127.0.0.1 and a free port with `threads` worker threads, for the `with` block.

    Yields a RunningWSGIServer. When the block ends, also when it fails, the server stops accepting
    (within 0.05 s), waits up to 5 s for the requests still running, and closes its socket. A request
    still running after that is left to finish in its (daemon) thread, and a line on stdout says so.
    """
    server = PooledWSGIServer(app, threads)
    loop = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="wsgi-accept",
                            daemon=True)
    loop.start()
    try:
        yield RunningWSGIServer(server, threads)
    finally:
        server.shutdown()  # stop accepting (returns within one poll interval)
        loop.join(_STOP_TIMEOUT)
        if not server.stop_workers(timeout=_STOP_TIMEOUT):
            print("[wsgi server] a request was still running after 5 s; its thread is left to finish on its own")
        server.server_close()
