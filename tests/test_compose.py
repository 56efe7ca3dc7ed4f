"""docker-compose.yml is for users (no Docker engine runs here), but it must stay a valid file."""

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_docker_compose_file_is_valid():
    # make test installs docker-compose (scripts/ensure-tools); `config` parses and validates without an engine.
    result = subprocess.run(
        ["docker-compose", "config", "--quiet"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr


def test_docker_compose_runs_the_same_processes_as_make_run():
    config = subprocess.run(
        ["docker-compose", "config"], cwd=ROOT, capture_output=True, text=True, timeout=60, check=True
    ).stdout
    for service in ("web:", "relay:", "worker:", "beat:", "migrate:", "postgres:", "redis:"):
        assert f"  {service}" in config, f"docker-compose.yml lost its {service} service"
