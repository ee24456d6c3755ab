"""Real processes for the reliability suite: `sentiero serve` servers that can be killed
with SIGKILL, and private PostgreSQL / Redis instances (in a temporary folder, on a free
port) that can be stopped and started without touching the machine's shared servers.

Every process is started in its own session and ended through its own process group id, so
nothing else on the machine is ever signalled.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import sentiero

SRC = str(Path(sentiero.__file__).resolve().parent.parent)
"""The ``src`` folder of the code under test (the worktree's, not an installed copy)."""
PREFIX = "/sentiero"


@contextlib.contextmanager
def private_folder(name: str) -> Iterator[Path]:
    """A temporary folder outside pytest's basetemp (which other pytest runs of the same
    user prune when they start), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=f"sentiero-{name}-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, timeout_s: float = 120.0, process: Process | None = None) -> None:
    """Wait until something listens on ``port`` (a busy machine can take a while to start a
    database); fails at once, with the process's output, when ``process`` exits first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.proc is not None and process.proc.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited:\n{process.output()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    output = process.output()[-3000:] if process is not None else ""
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout_s} s\n{output}")


class Process:
    """A child process in its own session (so SIGKILL reaches it and its children)."""

    def __init__(self, args: list[str], log_path: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.args = args
        self.log_path = log_path
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - kept by the child
        self.proc = subprocess.Popen(self.args, stdout=log, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=self.cwd, start_new_session=True)
        log.close()

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def signal_group(self, sig: int) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def kill9(self) -> None:
        """SIGKILL to the whole group: master and workers die at once, as in a crash."""
        self.signal_group(signal.SIGKILL)
        self.wait()

    def stop(self, timeout_s: float = 15.0) -> None:
        self.signal_group(signal.SIGTERM)
        try:
            self.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill9()

    def wait(self, timeout_s: float = 15.0) -> None:
        if self.proc is not None:
            self.proc.wait(timeout_s)

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def child_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SENTIERO_")}
    env["PYTHONPATH"] = SRC + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(extra)
    return env


class SentieroServer(Process):
    """``python -m sentiero serve`` on a free port."""

    def __init__(self, folder: Path, store_url: str, *, workers: int = 1, threads: int = 4,
                 access_log: bool = False, env: dict[str, str] | None = None,
                 name: str = "server") -> None:
        self.port = free_port()
        args = [sys.executable, "-m", "sentiero", "serve", "--port", str(self.port),
                "--store", store_url, "--workers", str(workers), "--threads", str(threads),
                "--open-dashboard"]
        if access_log:
            args.append("--access-log")
        super().__init__(args, folder / f"{name}.log", child_env(**(env or {})), cwd=folder)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}{PREFIX}"

    def start(self, timeout_s: float = 60.0) -> None:
        super().start()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"sentiero serve exited:\n{self.output()[-3000:]}")
            try:
                with urllib.request.urlopen(self.base + "/recorder.js", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                time.sleep(0.1)
        raise TimeoutError(f"sentiero serve did not answer:\n{self.output()[-3000:]}")


def _as_postgres(args: list[str]) -> list[str]:
    """initdb and postgres refuse to run as root: run them as the postgres account."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *args]
    return args


def postgres_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        return str(candidate)
    return None


class PrivatePostgres(Process):
    """A PostgreSQL cluster of our own: initdb into ``folder``, listening on a free port,
    trust auth, database ``sentiero``. ``stop()`` / ``start()`` simulate an outage."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        # its own folder under /tmp: the postgres account cannot enter pytest's 0700 folders
        self.folder = Path(tempfile.mkdtemp(prefix="sentiero-pg-"))
        self.data = self.folder / "pgdata"
        self.sockets = self.folder / "pgsock"
        initdb, postgres = postgres_bin("initdb"), postgres_bin("postgres")
        if not initdb or not postgres:
            raise RuntimeError("PostgreSQL server binaries (initdb, postgres) are not installed")
        self._initdb = initdb
        args = _as_postgres([postgres, "-D", str(self.data), "-p", str(self.port),
                             "-k", str(self.sockets), "-c", "listen_addresses=127.0.0.1",
                             "-c", "fsync=off", "-c", "max_connections=200"])
        super().__init__(args, folder / "postgres.log")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def init(self) -> None:
        self.sockets.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, "postgres")
            shutil.chown(self.sockets, "postgres")
        subprocess.run(_as_postgres([self._initdb, "-D", str(self.data), "-U", "postgres",
                                     "--auth=trust", "-E", "UTF8", "--no-sync"]),
                       check=True, capture_output=True)

    def start(self) -> None:
        super().start()
        wait_for_port(self.port, process=self)
        self._wait_until_accepting()

    def _wait_until_accepting(self, timeout: float = 60.0) -> None:
        """The port opens before recovery ends ("the database system is starting up"):
        wait until a connection is accepted."""
        import psycopg

        deadline = time.monotonic() + timeout
        while True:
            try:
                psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres "
                                "dbname=postgres connect_timeout=5").close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline or not self.running:
                    raise
                time.sleep(0.2)

    def remove(self) -> None:
        """Stop the cluster and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class PrivateRedis(Process):
    """A Redis server of our own with an append-only file fsynced on every write, so
    what it acknowledged survives a restart."""

    def __init__(self, folder: Path) -> None:
        self.port = free_port()
        redis = shutil.which("redis-server")
        if not redis:
            raise RuntimeError("redis-server is not installed")
        data = folder / "redis"
        data.mkdir(parents=True, exist_ok=True)
        args = [redis, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(data),
                "--appendonly", "yes", "--appendfsync", "always", "--save", ""]
        super().__init__(args, folder / "redis.log")

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        super().start()
        wait_for_port(self.port, process=self)
