"""The ``sentiero`` command as a user runs it."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from click.testing import CliRunner

from sentiero.cli import main


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_help_documents_every_flag() -> None:
    result = CliRunner().invoke(main, ["serve", "--help"])
    assert result.exit_code == 0
    for flag in ("--host", "--port", "--store", "--prefix", "--cors-origin", "--open-dashboard",
                 "--public-url", "--workers", "--threads", "SENTIERO_BASIC_AUTH"):
        assert flag in result.output
    # every option has help text, not just a name
    params = [p for p in main.commands["serve"].params if p.name != "help"]
    assert all(getattr(p, "help", None) for p in params)


def test_demo_refuses_a_public_interface() -> None:
    result = CliRunner().invoke(main, ["demo", "--host", "0.0.0.0"])
    assert result.exit_code != 0
    assert "127.0.0.1" in result.output


def _start(args: list[str], tmp_path: Path) -> tuple[subprocess.Popen[str], list[str]]:
    proc = subprocess.Popen([sys.executable, "-m", "sentiero.cli", *args], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    deadline = time.monotonic() + 30
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line.strip())
        if "Dashboard" in line or "listening" in line:
            break
    return proc, lines


def test_demo_serves_the_site_and_the_dashboard(tmp_path: Path) -> None:
    port = free_port()
    proc, lines = _start(["demo", "--port", str(port), "--db", str(tmp_path / "demo.db")],
                         tmp_path)
    try:
        assert f"Demo site:  http://127.0.0.1:{port}/" in lines, lines
        home = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10).read().decode()
        assert 'id="sentiero-config"' in home and "/sentiero/assets/recorder-" in home
        signup = urllib.request.urlopen(f"http://127.0.0.1:{port}/signup", timeout=10).read()
        assert b'type="password"' in signup
        dashboard = urllib.request.urlopen(f"http://127.0.0.1:{port}/sentiero/", timeout=10)
        assert dashboard.status == 200
        body = (b'{"sessionId":"test","windowId":"test","events":[{"type":4,"timestamp":1}]}')
        request = urllib.request.Request(f"http://127.0.0.1:{port}/sentiero/events", data=body,
                                         headers={"Content-Type": "application/json"})
        answer = urllib.request.urlopen(request, timeout=10)
        assert answer.status == 200 and answer.read() == b'{"status":"ok"}'
        assert (tmp_path / "demo.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_serve_without_auth_warns_and_dashboard_is_forbidden(tmp_path: Path) -> None:
    port = free_port()
    proc, lines = _start(["serve", "--port", str(port), "--workers", "1",
                          "--store", f"sqlite:///{tmp_path / 's.db'}"], tmp_path)
    try:
        assert any("no dashboard auth" in line for line in lines), lines
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/sentiero/", timeout=10)
            raise AssertionError("dashboard should refuse")
        except urllib.error.HTTPError as exc:
            assert exc.code == 403
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_python_dash_m_sentiero_is_the_same_command() -> None:
    result = subprocess.run([sys.executable, "-m", "sentiero", "serve", "--help"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0 and "--cors-origin" in result.stdout
