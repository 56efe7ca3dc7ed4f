"""Run the ASGI server and a Celery worker with embedded beat in the foreground (``make run``, ``make serve``,
and docker-compose's ``web`` with ``--web-only``).

Once both are up, the admin login is printed last (``ensure_admin.admin_login_line``): the generated
password while it still works, otherwise how to reset it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from celery.signals import worker_ready
from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connections

from inventory.management.commands.ensure_admin import admin_login_line, browsable_host
from inventory.ws_limits import server_max_size

# Straight to the local server, whatever HTTP(S)_PROXY says.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))
WORKER_READY_ENV = "RUNSTACK_WORKER_READY_FILE"
# Seconds after the web server is up to wait for the worker before printing the admin line anyway.
WORKER_READY_WAIT = 60.0


@worker_ready.connect
def _mark_worker_ready(**_: object) -> None:
    """In the Celery worker (runstack passes this module to ``-I``): tells runstack the worker is up."""
    if path := os.environ.get(WORKER_READY_ENV):
        with contextlib.suppress(OSError):
            Path(path).touch()


def answers_health(*, host: str, port: int) -> bool:
    """True once the web server answers ``GET /health`` (any status: a 503 is an answer too)."""
    try:
        with _LOCAL.open(f"http://{browsable_host(host)}:{port}/health", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


class Command(BaseCommand):
    help = "Start the web server (uvicorn), a Celery worker and Celery beat; Ctrl-C stops all of them."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
        parser.add_argument("--port", type=int, default=settings.PORT)
        parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
        parser.add_argument("--celery-concurrency", type=int, default=2)
        parser.add_argument("--quiet", action="store_true", help="no access log, warnings only")
        parser.add_argument("--web-only", action="store_true", help="only the web server (worker and beat run apart)")

    def handle(self, *args, host: str, port: int, workers: int, celery_concurrency: int, quiet: bool, **options):
        python = sys.executable
        if metrics_dir := os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            # prometheus_client's multiprocess files must not outlive the processes that wrote them.
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.makedirs(metrics_dir, exist_ok=True)
        web = [python, "-m", "uvicorn", "inventory_site.asgi:application", "--host", host, "--port", str(port)]
        # A little above WS_MAX_MESSAGE_BYTES (enforced by the app): a huge frame is refused unbuffered.
        web += ["--ws-max-size", str(server_max_size())]
        if workers > 1:
            web += ["--workers", str(workers)]
        if quiet:
            web += ["--no-access-log", "--log-level", "warning"]
        worker = [python, "-m", "celery", "-A", "inventory_site", "worker", "-B", "-c", str(celery_concurrency)]
        worker += ["-l", "warning" if quiet else "info", "-I", __name__]
        commands = {"web": web} if options["web_only"] else {"web": web, "worker": worker}
        if not options["web_only"] and not settings.RELAY_IN_PROCESS:
            # With Redis the relay is a process of its own (on the embedded default it runs inside the web).
            commands["relay"] = [python, "manage.py", "relay_events"]
        # The admin line is printed after the start-up logs of both servers: the worker marks this file when up.
        ready_dir = Path(tempfile.mkdtemp(prefix="runstack-"))
        worker_env = {**os.environ, WORKER_READY_ENV: str(ready_dir / "worker-ready")}
        processes = {
            name: subprocess.Popen(cmd, env=worker_env if name == "worker" else None) for name, cmd in commands.items()
        }
        self.stdout.write(f"Serving on http://{host}:{port}/ (admin at /admin/). Ctrl-C stops everything.")
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        web_up_at: float | None = None
        announced = False
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with status {process.returncode}; stopping the rest.")
                    exit_code = process.returncode or 1
                    stopping = True
            if not (stopping or announced):
                if web_up_at is None and answers_health(host=host, port=port):
                    web_up_at = time.monotonic()
                worker_up = (
                    "worker" not in processes
                    or (ready_dir / "worker-ready").exists()
                    or (web_up_at is not None and time.monotonic() - web_up_at > WORKER_READY_WAIT)
                )
                if web_up_at is not None and worker_up:
                    # Last, once both are up: printed earlier it would scroll away in the start-up logs.
                    announced = True
                    self.stdout.write(admin_login_line(host=host, port=port))
                    self.stdout.flush()
                    connections.close_all()  # this process needs no database connection while it waits
            time.sleep(0.3)
        shutil.rmtree(ready_dir, ignore_errors=True)
        for process in processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in processes.values():
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
        sys.exit(exit_code)
