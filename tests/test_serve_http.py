"""What clients and operators see from a real ``sentiero serve`` (gunicorn): refusals that
arrive instead of connection resets, and logs that hold neither client addresses nor
forged lines."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.reliability.harness import SentieroServer, private_folder


@pytest.fixture(scope="module")
def server() -> Iterator[SentieroServer]:
    with private_folder("serve") as folder:
        srv = SentieroServer(folder, f"sqlite:///{folder}/s.db", access_log=True)
        srv.start()
        yield srv
        srv.stop()


def raw_request(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send a request byte for byte and return the status line (or the socket error)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        try:
            s.sendall(head + body)
            return s.recv(4096).split(b"\r\n", 1)[0]
        except OSError as exc:
            return type(exc).__name__.encode()


def post_head(length: int | None, *extra: bytes) -> bytes:
    lines = [b"POST /sentiero/events HTTP/1.1", b"Host: rec.test", b"Connection: close",
             b"Content-Type: application/json", *extra]
    if length is not None:
        lines.append(b"Content-Length: %d" % length)
    return b"\r\n".join(lines) + b"\r\n\r\n"


def test_an_oversized_body_gets_its_413_not_a_reset(server: SentieroServer) -> None:
    """The 413 used to be sent before the body was read; a client still uploading 5 MiB
    then saw a broken pipe or a reset instead of the answer."""
    body = b"x" * (5 * 1024 * 1024)
    for _ in range(5):
        assert raw_request(server.port, post_head(len(body)), body) == (
            b"HTTP/1.1 413 REQUEST ENTITY TOO LARGE")


def test_an_oversized_chunked_body_gets_its_413(server: SentieroServer) -> None:
    chunk = b"x" * 65536
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(40)) + b"0\r\n\r\n"
    head = post_head(None, b"Transfer-Encoding: chunked")
    assert raw_request(server.port, head, body) == b"HTTP/1.1 413 REQUEST ENTITY TOO LARGE"


def test_an_unknown_content_encoding_is_415(server: SentieroServer) -> None:
    body = b'{"sessionId":"s1","windowId":"w1","events":[{"type":4,"timestamp":1,"data":{}}]}'
    head = post_head(len(body), b"Content-Encoding: br")
    assert raw_request(server.port, head, body) == b"HTTP/1.1 415 UNSUPPORTED MEDIA TYPE"


def test_a_path_outside_the_prefix_is_a_404_with_the_security_headers(
        server: SentieroServer) -> None:
    import urllib.error
    import urllib.request

    try:
        urllib.request.urlopen(f"http://127.0.0.1:{server.port}/elsewhere", timeout=10)
    except urllib.error.HTTPError as error:
        assert error.code == 404
        assert error.headers["X-Frame-Options"] == "DENY"
        assert "default-src 'self'" in error.headers["Content-Security-Policy"]
        assert error.headers["Cache-Control"] == "no-store"
    else:
        raise AssertionError("not a 404")


def wait_for_log(server: SentieroServer, needle: str, timeout_s: float = 10) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        text = server.output()
        if needle in text:
            return text
        time.sleep(0.1)
    raise AssertionError(f"{needle!r} never logged:\n{server.output()[-2000:]}")


def log_lines(server: SentieroServer) -> list[str]:
    # the startup banner prints the address the server listens on; that is not a client's
    return [line for line in server.output().splitlines()
            if not line.startswith(("Sentiero listening", "Add to your pages"))]


def test_gunicorn_logs_no_client_address(server: SentieroServer) -> None:
    """gunicorn writes "Invalid request from ip=<client>" for a malformed request."""
    raw_request(server.port, b"GET /sentiero/ HTTP/1.1\r\nHost: x\r\nBad header line\r\n\r\n")
    wait_for_log(server, "Invalid request from ip=")
    lines = log_lines(server)
    assert any("Invalid request from ip=[ip]" in line for line in lines)
    assert not [line for line in lines if "127.0.0.1" in line]


def test_a_newline_in_a_path_cannot_forge_an_access_log_line(server: SentieroServer) -> None:
    raw_request(server.port, b"GET /sentiero/x%0a127.0.0.9%20FORGED%0d HTTP/1.1\r\n"
                             b"Host: x\r\nConnection: close\r\n\r\n")
    wait_for_log(server, "FORGED")
    forged = [line for line in log_lines(server) if "FORGED" in line]
    assert len(forged) == 1
    assert forged[0].startswith("[")  # the access line itself, with its timestamp
    assert "/sentiero/x\\x0a[ip] FORGED\\x0d" in forged[0]


def test_our_own_error_lines_escape_control_characters(caplog: pytest.LogCaptureFixture
                                                       ) -> None:
    from werkzeug.test import Client

    from sentiero.settings import Settings
    from sentiero.stores.memory import MemoryStore
    from sentiero.web.application import Application, Route

    def broken(web: object, request: object, rest: str) -> None:
        raise RuntimeError("boom")

    app = Application(Settings(allow_open_dashboard=True), MemoryStore(),
                      routes=[Route("/<path:rest>", "broken", broken)])
    # an ANSI escape (terminal colours) and U+2028 (a line break to many log viewers)
    assert Client(app).get("/a%1b[2Jb%e2%80%a8FORGED").status_code == 500
    [record] = [r for r in caplog.records if "unhandled error" in r.getMessage()]
    assert "\x1b" not in record.getMessage() and "\u2028" not in record.getMessage()
    assert "/a\\x1b[2Jb\\u2028FORGED" in record.getMessage()
