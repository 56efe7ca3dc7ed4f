"""Start-up: configuration errors are one clear line; the embedded default (SQLite) works end to end."""

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.processes import free_port

ROOT = Path(__file__).resolve().parent.parent
SERVICE_VARS = ("DATABASE_URL", "REDIS_URL", "DB_HOST", "DB_NAME", "DB_USER", "REDIS_HOST", "REDIS_PORT", "REDIS_DB")


def _embedded_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SERVICE_VARS and k != "DJANGO_SETTINGS_MODULE"}
    env.update({"DEBUG": "true", "VAR_DIR": str(tmp_path / "var"), **extra})
    return env


def _manage(*args: str, env: dict[str, str], timeout: int = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("RESERVATION_TTL", "abc"), ("PORT", "99999"), ("DEBUG", "maybe"), ("LOW_STOCK_THRESHOLD", "-1")],
)
def test_a_bad_setting_stops_start_up_with_one_line_naming_it(tmp_path, name, value):
    result = _manage("check", env=_embedded_env(tmp_path, **{name: value}))
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert name in lines[0] and "Traceback" not in result.stderr


def test_secret_key_is_required_without_debug(tmp_path):
    env = _embedded_env(tmp_path, DEBUG="false")
    env.pop("SECRET_KEY", None)
    result = _manage("check", env=env)
    assert result.returncode != 0 and "SECRET_KEY" in result.stderr


@pytest.mark.slow
def test_embedded_default_migrates_seeds_and_serves(tmp_path):
    env = _embedded_env(tmp_path)
    for command in (["migrate", "--noinput"], ["seed_demo"], ["seed_demo"], ["check_ledger"]):
        result = _manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    assert (tmp_path / "var" / "db.sqlite3").exists()
    assert "already present" in _manage("seed_demo", env=env).stdout

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "inventory_site.asgi:application", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        body = ""
        for _ in range(60):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/admin/login/", timeout=2) as response:
                    body = response.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert "Log in" in body or "login" in body.lower()
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.mark.slow
def test_embedded_default_runs_a_real_worker_and_beat_without_a_broker_server(tmp_path):
    env = _embedded_env(tmp_path)
    assert _manage("migrate", "--noinput", env=env).returncode == 0
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "inventory_site", "worker", "-B", "-l", "info", "-c", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        sent = subprocess.run(
            [
                sys.executable,
                "-c",
                "import django; django.setup(); "
                "from inventory.tasks import check_ledger_task; check_ledger_task.delay()",
            ],
            cwd=ROOT,
            env={**env, "DJANGO_SETTINGS_MODULE": "inventory_site.settings"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert sent.returncode == 0, sent.stderr
        deadline = time.monotonic() + 60
        seen = []
        os.set_blocking(worker.stdout.fileno(), False)
        while time.monotonic() < deadline:
            line = worker.stdout.readline()
            if line:
                seen.append(line)
                if "ledger balanced" in line:
                    break
            else:
                time.sleep(0.2)
        output = "".join(seen)
        assert "ledger balanced" in output, output[-3000:]
        assert "beat: Starting" in output
    finally:
        worker.terminate()
        worker.wait(timeout=20)
