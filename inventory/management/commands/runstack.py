"""Run the ASGI server and a Celery worker with embedded beat in the foreground (``make run``, ``make serve``,
and docker-compose's ``web`` with ``--web-only``)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand


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
        if workers > 1:
            web += ["--workers", str(workers)]
        if quiet:
            web += ["--no-access-log", "--log-level", "warning"]
        worker = [python, "-m", "celery", "-A", "inventory_site", "worker", "-B", "-c", str(celery_concurrency)]
        worker += ["-l", "warning" if quiet else "info"]
        commands = {"web": web} if options["web_only"] else {"web": web, "worker": worker}
        processes = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(f"Serving on http://{host}:{port}/ (admin at /admin/). Ctrl-C stops everything.")
        stopping = False

        def stop(*_: object) -> None:
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, process in processes.items():
                if process.poll() is not None:
                    self.stderr.write(f"{name} exited with status {process.returncode}; stopping the rest.")
                    exit_code = process.returncode or 1
                    stopping = True
            time.sleep(0.3)
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
