"""Unit tests of coursekit.wsgi_server: a real WSGI server with a fixed pool of worker threads."""

from __future__ import annotations

import asyncio
import json
import socket
import threading

import httpx
import pytest

from coursekit import PooledWSGIServer, RunningWSGIServer, serve_wsgi

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend():
    return "asyncio"


class HeldApp:
    """A WSGI app whose /hold requests wait until released; it counts the requests inside it at once."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.lock = threading.Lock()
        self.inside = self.peak = 0

    def __call__(self, environ, start_response):
        path = environ["PATH_INFO"]
        if path == "/boom":
            raise RuntimeError("the app broke")
        if path == "/log":
            environ["wsgi.errors"].write("an app error line\n")
        if path == "/hold":
            with self.lock:
                self.inside += 1
                self.peak = max(self.peak, self.inside)
            self.release.wait(5)
            with self.lock:
                self.inside -= 1
        body = json.dumps({"path": path, "thread": threading.current_thread().name}).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]


def wsgi_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("wsgi-")}


async def test_serve_wsgi_serves_on_loopback_from_a_worker_thread():
    with serve_wsgi(HeldApp(), threads=2) as server:
        assert isinstance(server, RunningWSGIServer)
        assert server.host == "127.0.0.1" and server.url == f"http://127.0.0.1:{server.port}"
        assert server.threads == 2
        async with server.client() as client:
            r = await client.get("/hello")
        assert r.status_code == 200
        assert r.json()["path"] == "/hello" and r.json()["thread"].startswith("wsgi-worker-")


async def test_serve_wsgi_serves_at_most_as_many_requests_at_once_as_it_has_threads():
    app = HeldApp()
    with serve_wsgi(app, threads=3) as server:
        async with server.client(timeout=10) as client:
            requests = [asyncio.create_task(client.get("/hold")) for _ in range(6)]
            for _ in range(500):  # wait, a bounded number of times, until all three threads are busy
                if app.inside == 3:
                    break
                await asyncio.sleep(0.01)
            assert app.inside == 3, "three threads serve three requests; three more wait in the queue"
            app.release.set()
            responses = await asyncio.wait_for(asyncio.gather(*requests), 10)
    assert [r.status_code for r in responses] == [200] * 6
    assert app.peak == 3


def test_serve_wsgi_stops_its_threads_and_closes_its_socket_when_the_block_fails():
    before = wsgi_threads()
    with pytest.raises(RuntimeError, match="a failing check"):
        with serve_wsgi(HeldApp(), threads=2) as server:
            assert len(wsgi_threads() - before) == 3  # the accept loop and two workers
            raise RuntimeError("a failing check")
    assert wsgi_threads() == before
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url, timeout=2)


async def test_an_app_that_raises_gets_a_500_and_its_error_goes_to_stdout_not_stderr(capsys):
    with serve_wsgi(HeldApp(), threads=1) as server:
        async with server.client() as client:
            broken = await client.get("/boom")
            logged = await client.get("/log")
    out, err = capsys.readouterr()
    assert broken.status_code == 500 and logged.status_code == 200
    assert "the app broke" in out and "an app error line" in out
    assert err == ""


def test_serve_wsgi_says_so_when_a_request_outlives_the_stop(monkeypatch, capsys):
    import coursekit.wsgi_server as wsgi_server

    monkeypatch.setattr(wsgi_server, "_STOP_TIMEOUT", 0.05)
    app = HeldApp()
    with serve_wsgi(app, threads=1) as server:
        holder = threading.Thread(target=httpx.get, args=(server.url + "/hold",), kwargs={"timeout": 10})
        holder.start()
        for _ in range(500):  # until the request is inside the app (a bounded number of checks)
            if app.inside:
                break
            threading.Event().wait(0.01)
    assert "a request was still running" in capsys.readouterr().out
    app.release.set()
    holder.join(10)


def test_stop_workers_is_false_while_a_worker_is_busy_and_true_once_all_ended():
    app = HeldApp()
    server = PooledWSGIServer(app, threads=1)
    try:
        with socket.create_connection(server.server_address, timeout=5) as client:
            client.sendall(b"GET /hold HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n")
            server.process_request(*server.get_request())  # what serve_forever does for each connection
            for _ in range(500):  # until the request is inside the app (a bounded number of checks)
                if app.inside:
                    break
                threading.Event().wait(0.01)
            assert server.stop_workers(timeout=0.05) is False
            app.release.set()
            assert server.stop_workers(timeout=5) is True
    finally:
        app.release.set()
        server.server_close()
