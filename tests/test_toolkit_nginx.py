"""Unit tests of coursekit.nginx: parsing nginx configurations, and running one where nginx is installed."""

from __future__ import annotations

import httpx
import pytest

from coursekit import (
    NGINX, CheckFailed, Directive, free_port, nginx_seconds, parse_nginx, run_nginx, running_process_groups,
)
from coursekit.nginx import nginx_main_conf

SITE = """
map $http_upgrade $connection_upgrade {   # a comment
    default upgrade;
    ''      close;
}
server {
    listen 127.0.0.1:8080;
    location /ws/ {
        proxy_set_header Connection "upgrade";
    }
}
"""


def test_parse_nginx_nests_blocks_and_keeps_line_numbers():
    top = parse_nginx(SITE)
    assert [d.name for d in top] == ["map", "server"]
    assert top[0].args == ["$http_upgrade", "$connection_upgrade"] and top[0].line == 2
    assert top[0].block == [Directive("default", ["upgrade"], None, 3), Directive("", ["close"], None, 4)]
    location = top[1].find("location")[0]
    assert location.args == ["/ws/"] and location.line == 8
    assert location.block == [Directive("proxy_set_header", ["Connection", "upgrade"], None, 9)]


def test_directive_find_looks_one_level_down_only():
    server = parse_nginx(SITE)[1]
    assert [d.args for d in server.find("listen")] == [["127.0.0.1:8080"]]
    assert server.find("proxy_set_header") == []
    assert Directive("listen", ["80"]).find("anything") == []


@pytest.mark.parametrize("text, message", [
    ("server { listen 80 }", r"line 1: `listen 80` needs a ';' at its end"),
    ("server {\n listen 80;\n", r"a '\{' is never closed"),
    ("listen 80;\n}", r"line 2: this '\}' closes no block"),
    ("add_header X 'open;", r"line 1: the quote ' is never closed"),
    ("{ listen 80; }", r"line 1: a '\{' with no directive before it"),
    ("listen 80;;", r"line 1: a ';' with no directive before it"),
])
def test_parse_nginx_fails_on_syntax_errors_naming_the_line(text, message):
    with pytest.raises(CheckFailed, match=message):
        parse_nginx(text)


@pytest.mark.parametrize("value, seconds", [("75s", 75), ("60", 60), ("1h", 3600), ("1h30m", 5400), ("500ms", 0.5)])
def test_nginx_seconds_reads_nginx_times(value, seconds):
    assert nginx_seconds(value) == seconds


@pytest.mark.parametrize("value", ["", "1 h", "soon", "5x"])
def test_nginx_seconds_fails_on_what_is_not_an_nginx_time(value):
    with pytest.raises(CheckFailed, match="is not an nginx time"):
        nginx_seconds(value)


def test_nginx_main_conf_keeps_nginx_in_the_foreground_with_its_files_in_the_prefix(tmp_path):
    conf = nginx_main_conf("server { listen 127.0.0.1:1; }", tmp_path)
    assert "daemon off;" in conf and "master_process off;" in conf
    assert f"pid {tmp_path}/nginx.pid;" in conf
    assert "    server { listen 127.0.0.1:1; }" in conf


needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed here")


@needs_nginx
def test_run_nginx_serves_the_site_and_stops_nginx_after():
    site = 'server {{ listen 127.0.0.1:{port}; location / {{ return 200 "hello from nginx"; }} }}'
    with run_nginx(lambda port: site.format(port=port)) as url:
        assert len(running_process_groups()) == 1
        assert httpx.get(url, timeout=5).text == "hello from nginx"
    assert running_process_groups() == set()


@needs_nginx
def test_run_nginx_fails_on_a_configuration_nginx_rejects():
    with pytest.raises(CheckFailed, match=r"nginx rejects this configuration \(nginx -t\)"):
        with run_nginx(lambda port: f"server {{ listen 127.0.0.1:{port}; no_such_directive on; }}"):
            pytest.fail("the block should not run")
    assert running_process_groups() == set()


@needs_nginx
def test_run_nginx_fails_and_stops_nginx_when_the_site_does_not_listen_on_the_port():
    with pytest.raises(CheckFailed, match="nothing listens on 127.0.0.1"):
        with run_nginx(lambda port: f"server {{ listen 127.0.0.1:{free_port()}; }}"):  # another port
            pytest.fail("the block should not run")
    assert running_process_groups() == set()
