"""Run examples/django_project for real: its own database, migrated, with a staff user and a
visitor, served by gunicorn (WSGI) or uvicorn (ASGI) on a free 127.0.0.1 port."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ROOT / "examples" / "django_project"
STAFF = ("admin", "admin-pw-for-tests")
VISITOR = ("visitor", "visitor-pw-for-tests")

CREATE_USERS = f"""
from django.contrib.auth.models import User
User.objects.create_user({STAFF[0]!r}, password={STAFF[1]!r}, is_staff=True)
User.objects.create_user({VISITOR[0]!r}, password={VISITOR[1]!r})
"""


def prepare(tmp_path: Path, flush_interval_ms: int = 1000) -> dict[str, str]:
    """Environment of a fresh copy of the project's database, migrated, with two users."""
    env = {**os.environ, "SHOP_DB": str(tmp_path / "shop.sqlite3"),
           "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), str(PROJECT)]),
           "SENTIERO_FLUSH_INTERVAL_MS": str(flush_interval_ms), "DJANGO_DEBUG": "0"}
    manage(env, "migrate", "--noinput", "-v", "0")
    manage(env, "shell", "-c", CREATE_USERS)
    return env


def manage(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout + done.stderr


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def serve(env: dict[str, str], interface: str, project: Path = PROJECT, package: str = "shop"
          ) -> Iterator[str]:
    """A Django project under gunicorn (``wsgi``) or uvicorn (``asgi``); yields its URL."""
    port = free_port()
    if interface == "wsgi":
        command = [sys.executable, "-m", "gunicorn", "-b", f"127.0.0.1:{port}", "-w", "1",
                   "--threads", "4", f"{package}.wsgi:application"]
    else:
        command = [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(port),
                   f"{package}.asgi:application"]
    server = subprocess.Popen(command, cwd=project, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    output = server.stdout.read().decode() if server.stdout else ""
                    raise AssertionError(f"{interface} server did not start:\n{output}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        if server.stdout:
            server.stdout.close()
