"""nginx configurations: read them as text, and run them for real where nginx is installed (notebook 11).

    top = parse_nginx(text)                 # a list of Directive objects, blocks nested
    with run_nginx(lambda port: site_config(app_port, port)) as proxy_url:
        ...                                 # nginx, as your user, on 127.0.0.1:<port>

`NGINX` is the path of the nginx program, or None where it is not installed (then
notebook 11 grades its nginx exercise on the configuration text alone).

nginx binds its port itself, so `run_nginx` picks a free port and tries another
one when another program took it first (the race described in coursekit.processes).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import textwrap
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .checks import fail
from .processes import PORT_TAKEN, end_process_group, free_port, process_work_dir, start_process_group


def _find_nginx() -> str | None:
    places = ("/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/local/bin/nginx", "/opt/homebrew/bin/nginx")
    return shutil.which("nginx") or next((path for path in places if os.access(path, os.X_OK)), None)


NGINX: str | None = _find_nginx()

# nginx logs 'using the "epoll" event method' once all its ports are bound.
_NGINX_LISTENING = "event method"


@dataclass
class Directive:
    """One nginx directive: its name, its arguments, the directives in its { } block (None without one), its line."""

    name: str
    args: list[str]
    block: list[Directive] | None = None
    line: int = 0

    def find(self, name: str) -> list[Directive]:
        """The directives called `name` directly inside this block (an empty list if there is no block)."""
        return [d for d in self.block or [] if d.name == name]


def _tokens(text: str) -> Iterator[tuple[str, str, int]]:
    """(kind, value, line) for each word ("word") and each of { } ; in nginx configuration text."""
    i, line, n = 0, 1, len(text)
    while i < n:
        ch = text[i]
        if ch == "\n":
            line += 1
            i += 1
        elif ch.isspace():
            i += 1
        elif ch == "#":
            while i < n and text[i] != "\n":
                i += 1
        elif ch in "{};":
            yield ch, ch, line
            i += 1
        elif ch in "\"'":
            j, value, start = i + 1, [], line
            while j < n and text[j] != ch:
                if text[j] == "\\" and j + 1 < n:
                    j += 1
                if text[j] == "\n":
                    line += 1
                value.append(text[j])
                j += 1
            if j >= n:
                fail(f"nginx config line {start}: the quote {ch} is never closed")
            yield "word", "".join(value), start
            i = j + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in "{};\"'":
                j += 1
            yield "word", text[i:j], line
            i = j


def parse_nginx(text: str) -> list[Directive]:
    """Parse nginx configuration text into its top-level directives (blocks nested inside them).

    Comments are dropped and quotes removed. Raises CheckFailed, naming the line, on a syntax error:
    a directive without its ';', a '{' never closed, a '}' that closes nothing, an unclosed quote.
    """
    root: list[Directive] = []
    stack, words, first = [root], [], 0
    for kind, value, line in _tokens(text):
        if kind == "word":
            if not words:
                first = line
            words.append(value)
        elif kind == ";":
            if not words:
                fail(f"nginx config line {line}: a ';' with no directive before it")
            stack[-1].append(Directive(words[0], words[1:], None, first))
            words = []
        elif kind == "{":
            if not words:
                fail(f"nginx config line {line}: a '{{' with no directive before it")
            block = Directive(words[0], words[1:], [], first)
            stack[-1].append(block)
            stack.append(block.block)
            words = []
        else:
            if words:
                fail(f"nginx config line {first}: `{' '.join(words)}` needs a ';' at its end")
            if len(stack) == 1:
                fail(f"nginx config line {line}: this '}}' closes no block")
            stack.pop()
    if words:
        fail(f"nginx config line {first}: `{' '.join(words)}` needs a ';' at its end")
    if len(stack) > 1:
        fail("nginx config: a '{' is never closed")
    return root


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "M": 2592000, "y": 31536000}


def nginx_seconds(value: str) -> float:
    """An nginx time such as 75s, 1h, 1h30m, 500ms or 60 (no unit: seconds), in seconds.

    Raises CheckFailed if `value` is not an nginx time.
    """
    parts = re.findall(r"(\d+)(ms|s|m|h|d|w|M|y)?", value)
    if not parts or "".join(number + unit for number, unit in parts) != value:
        fail(f"{value!r} is not an nginx time (examples: 75s, 1h, 500ms)")
    return sum(int(number) * _UNITS[unit or "s"] for number, unit in parts)


def nginx_main_conf(site: str, prefix: Path) -> str:
    """A throw-away nginx main configuration around `site` (the http-level part, such as a conf.d file).

    daemon off: nginx stays in the foreground, so the caller owns the process. master_process off:
    one process and no switching of users, so it runs without root. Pid file, logs and temporary
    files all live in `prefix`, a temporary folder. Not a production setup: it exists to test `site`.
    """
    return f"""
daemon off;
master_process off;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log notice;   # notice: nginx says when its ports are bound
events {{ worker_connections 128; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
{textwrap.indent(site.strip(), "    ")}
}}
"""


def _start_nginx(site: str, port: int, prefix: Path, timeout: float) -> subprocess.Popen | None:
    """nginx running `site` (files in `prefix`) once it listens on `port`, or None if the port was taken."""
    conf, log_path = prefix / "nginx.conf", prefix / "error.log"
    conf.write_text(nginx_main_conf(site, prefix))
    command = [NGINX, "-e", str(log_path), "-p", str(prefix), "-c", str(conf)]
    check = subprocess.run(command + ["-t", "-q"], capture_output=True, text=True, timeout=timeout,
                           stdin=subprocess.DEVNULL)
    if check.returncode != 0:
        fail(f"nginx rejects this configuration (nginx -t):\n{textwrap.indent((check.stderr or check.stdout).strip(), '    ')}")
    with open(prefix / "nginx.out", "wb") as out:
        popen = start_process_group(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while True:
            log = log_path.read_text(errors="replace") if log_path.exists() else ""
            if PORT_TAKEN.search(log):  # nginx would retry for 2.5 s and exit: another port is quicker
                end_process_group(popen)
                return None
            if _NGINX_LISTENING in log:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
                    return popen  # nginx holds its ports now, so this one is nginx's
                fail(f"nginx started, but nothing listens on 127.0.0.1:{port}: the site should say "
                     f"`listen 127.0.0.1:{port};`")
            if popen.poll() is not None or time.monotonic() > deadline:
                fail(f"nginx did not start listening on 127.0.0.1:{port}.\n{textwrap.indent(log.strip(), '    ')}")
            time.sleep(0.02)
    except BaseException:
        end_process_group(popen)
        raise


@contextmanager
def run_nginx(make_site: Callable[[int], str], timeout: float = 10.0, attempts: int = 3) -> Iterator[str]:
    """Run nginx with the site `make_site(port)` for the duration of the block; yield its base URL.

    The site must listen on 127.0.0.1:<port>, a free port chosen here. nginx runs as your user with
    all its files in a temporary folder, and is killed when the block ends, also when it fails.
    If another program takes the port first, this tries another one, up to `attempts` times.
    `timeout` bounds nginx's configuration test and its start-up, in seconds.
    Raises RuntimeError where nginx is not installed (NGINX is None), and CheckFailed if nginx
    rejects the configuration or does not listen on the port.
    """
    if NGINX is None:
        raise RuntimeError("nginx is not installed on this machine")
    log = ""
    for _attempt in range(attempts):
        port = free_port()
        prefix = Path(tempfile.mkdtemp(prefix="nginx-", dir=process_work_dir()))
        try:
            popen = _start_nginx(make_site(port), port, prefix, timeout)
            if popen is None:
                log = (prefix / "error.log").read_text(errors="replace")
                continue
            try:
                yield f"http://127.0.0.1:{port}"
            finally:
                end_process_group(popen)
            return
        finally:
            shutil.rmtree(prefix, ignore_errors=True)
    fail(f"nginx found a port taken {attempts} times in a row (does the site listen on 127.0.0.1:<port> only?)\n"
         f"{textwrap.indent(log.strip(), '    ')}")
