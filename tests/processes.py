"""Start real server and worker processes against the test database (for end-to-end tests)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def service_env(**extra: str) -> dict[str, str]:
    """The environment of a child process that must see this test's database and Redis."""
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "inventory_site.settings_test",
        "DATABASE_URL": url,
        "REDIS_URL": settings.REDIS_URL,
        "PYTHONUNBUFFERED": "1",
        **extra,
    }


@contextmanager
def running(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen]:
    """Run ``python -m <args>`` in the project, output to ``log``; stopped (and reaped) on exit."""
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until(predicate, *, timeout: float = 30.0, interval: float = 0.2, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy; fail with ``message`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


# --- a PostgreSQL cluster of the test's own (fault tests stop and restart it) -------------------


def postgres_bindir() -> Path:
    """Directory of PostgreSQL's server binaries (initdb, pg_ctl): pg_config's, else the newest installed."""
    try:
        found = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        if (Path(found) / "initdb").exists():
            return Path(found)
    except (OSError, subprocess.CalledProcessError):
        pass
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name), reverse=True
    )
    if not versions:
        raise AssertionError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
    return versions[0].parent


class OwnPostgres:
    """A throw-away PostgreSQL cluster on 127.0.0.1:<port>, trust auth; only this object stops or kills it."""

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.data, self.sockets, self.log = root / "data", root / "sockets", root / "postgres.log"
        self.bindir = postgres_bindir()
        # initdb refuses to run as root: the server runs as OS user postgres when we are root.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def url(self, dbname: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def _run(self, *args: str) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if done.returncode:
            log = self.log.read_text()[-2000:] if self.log.exists() else ""
            raise AssertionError(f"{Path(args[0]).name} {' '.join(args[-1:])} failed: {done.stderr}{done.stdout}{log}")

    def init(self) -> None:
        self._run(str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync")

    def _pg_ctl(self, *args: str) -> None:
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60", *args)

    def _server_args(self) -> list[str]:
        # The log file also keeps the server's output off our pipes (run() would wait for it to close).
        # fsync off: a test cluster needs no durability and starts and checkpoints faster without it.
        options = f"-p {self.port} -k {self.sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
        return ["-l", str(self.log), "-o", options]

    def start(self) -> None:
        self._pg_ctl(*self._server_args(), "start")

    def stop(self, mode: str = "fast") -> None:
        self._pg_ctl("-m", mode, "stop")

    def restart(self, mode: str = "fast") -> None:
        """``pg_ctl restart``: every open connection to the cluster dies, the server is back when it returns."""
        self._pg_ctl("-m", mode, *self._server_args(), "restart")

    def postmaster_pid(self) -> int | None:
        """The running postmaster of this cluster (a stale pid file of a dead one does not count)."""
        try:
            pid = int((self.data / "postmaster.pid").read_text().split()[0])
            # The pid may have been reused since a crash: only a process working in this data directory counts
            # (the postmaster changes into it).
            cwd = Path(os.readlink(f"/proc/{pid}/cwd"))
        except (OSError, ValueError, IndexError):
            return None
        return pid if cwd == self.data.resolve() else None

    def kill(self) -> None:
        """Last resort: SIGKILL the postmaster's process group (pg_ctl starts it as a session leader)."""
        pid = self.postmaster_pid()
        if pid is None:
            return
        try:
            if os.getpgid(pid) == pid:
                os.killpg(pid, signal.SIGKILL)
            else:
                os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def create_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')


@contextmanager
def own_postgres() -> Iterator[OwnPostgres]:
    """Run a fresh PostgreSQL cluster for one test (module); stopped, killed if need be, and removed on exit."""
    root = Path(tempfile.mkdtemp(prefix="own-postgres-"))
    cluster = OwnPostgres(root, free_port())
    try:
        (root / "sockets").mkdir()
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
            shutil.chown(root / "sockets", "postgres", "postgres")
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        if cluster.postmaster_pid() is not None:
            with suppress(OSError, subprocess.SubprocessError):
                cluster.stop("immediate")
            cluster.kill()
        shutil.rmtree(root, ignore_errors=True)


# --- a Redis server of the test's own (fault tests kill, pause and restart it) -------------------


class OwnRedis:
    """``redis-server`` on 127.0.0.1:<port>, no persistence; only this object stops, pauses or kills it.

    It runs in a process group of its own, and every signal goes to that process only (never to a
    Redis found by name: the machine's shared Redis must never be touched).
    """

    def __init__(self, root: Path, port: int) -> None:
        self.root, self.port = root, port
        self.log = root / "redis.log"
        self.process: subprocess.Popen | None = None
        self.paused = False

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        assert self.process is None or self.process.poll() is not None, "already running"
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        args += ["--dir", str(self.root), "--logfile", str(self.log)]
        self.process = subprocess.Popen(args, cwd=self.root, start_new_session=True)
        self.paused = False
        wait_until(self.answers, timeout=30, interval=0.05, message=f"redis-server on port {self.port}")

    def answers(self) -> bool:
        import redis

        try:
            return bool(redis.Redis(port=self.port, socket_timeout=0.5, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False

    def kill(self) -> None:
        """SIGKILL: gone at once, with everything it held (it keeps nothing on disk)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: the port still accepts connections, but nothing is ever answered (a hung Redis)."""
        assert self.process is not None and self.process.poll() is None
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)
        self.paused = False


@contextmanager
def own_redis() -> Iterator[OwnRedis]:
    """A fresh redis-server on a free port for one test; killed and removed on exit, even if paused."""
    root = Path(tempfile.mkdtemp(prefix="own-redis-"))
    server = OwnRedis(root, free_port())
    try:
        server.start()
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            with suppress(OSError):
                server.process.send_signal(signal.SIGCONT)
            server.kill()
        shutil.rmtree(root, ignore_errors=True)


def http_answers(base_url: str, path: str = "/health") -> bool:
    """True once a server answers ``GET <path>`` with any status."""
    import urllib.error
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{base_url}{path}", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


@contextmanager
def serving_asgi(env: dict[str, str], log: Path, *, timeout: float = 90.0) -> Iterator[str]:
    """``uvicorn inventory_site.asgi:application`` on a free port (with its lifespan); yields its base URL."""
    port = free_port()
    args = ["uvicorn", "inventory_site.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
    with running([*args, "--lifespan", "on"], env, log) as process:
        base_url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            assert process.poll() is None, f"uvicorn exited:\n{log.read_text()[-3000:]}"
            return http_answers(base_url)

        wait_until(up, timeout=timeout, message=f"uvicorn to answer (log: {log})")
        yield base_url


def relay_command(*args: str) -> list[str]:
    """``python -m django relay_events ...`` (for ``running``; DJANGO_SETTINGS_MODULE comes from the env)."""
    return ["django", "relay_events", *args]


# --- the relay (``relay_events``) ---------------------------------------------------------------------

RELAY_STARTED = "relay: handling"  # relay_events prints this once its cursors exist


@contextmanager
def relay_process(env: dict[str, str], log: Path, *, timeout: float = 90.0) -> Iterator[subprocess.Popen]:
    """Run ``python -m django relay_events`` with ``env``; yields once it is relaying, stopped on exit.

    It is ready only once it printed its start line: its cursor rows then exist, so no event committed
    after this returns can be skipped (a relay's first cursor starts at the newest event).
    ``env`` needs the test's database, ``REDIS_URL`` and ``CACHE_KEY_PREFIX`` (the channel layer's
    prefix) and ``PYTHONUNBUFFERED=1``.
    """
    with running(["django", "relay_events"], env, log) as process:

        def started() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"relay_events exited with {process.returncode}:\n{log.read_text()[-3000:]}")
            return RELAY_STARTED in log.read_text()

        wait_until(started, timeout=timeout, message="relay_events to start")
        yield process
