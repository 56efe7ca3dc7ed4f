"""The lot expiry settings are read from the environment and checked at start-up like the others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
# The embedded default, and only the values a test gives.
IGNORED = ("DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE", "LOT_EXPIRY_SWEEP_SECONDS", "LOT_EXPIRY_WARNING_DAYS")


def manage(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in IGNORED}
    env.update({"DEBUG": "true", "VAR_DIR": str(tmp_path), **extra})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOT_EXPIRY_SWEEP_SECONDS", "0"), ("LOT_EXPIRY_WARNING_DAYS", "-1"), ("LOT_EXPIRY_WARNING_DAYS", "soon")],
)
def test_a_bad_lot_expiry_setting_stops_start_up_naming_it(tmp_path, name, value):
    result = manage(tmp_path, "check", **{name: value})
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and name in lines[0], result.stderr


def test_the_environment_sets_the_sweep_interval_and_the_warning_window(tmp_path):
    show = "from django.conf import settings as s; print(s.LOT_EXPIRY_SWEEP_SECONDS, s.LOT_EXPIRY_WARNING_DAYS)"
    result = manage(tmp_path, "shell", "-c", show, LOT_EXPIRY_SWEEP_SECONDS="5", LOT_EXPIRY_WARNING_DAYS="0")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "5 0"
    defaults = manage(tmp_path, "shell", "-c", show)
    assert defaults.stdout.strip().splitlines()[-1] == "60 14"
