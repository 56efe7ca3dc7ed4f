"""Production (TLS) settings from the environment: ``check --deploy`` is clean with the values README documents.

Each test runs the production settings module in a subprocess, with the environment a deployment
would have, so what is checked is how the variables are read, not a settings override.
"""

from __future__ import annotations

import json
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from tests.processes import service_env

ROOT = Path(__file__).resolve().parents[2]
HOST = "inventory.example.com"
# README, "Production (TLS) settings".
TLS_ENV = {
    "SECURE_SSL_REDIRECT": "true",
    "SECURE_HSTS_SECONDS": "31536000",
    "SESSION_COOKIE_SECURE": "true",
    "CSRF_COOKIE_SECURE": "true",
    "TRUST_X_FORWARDED_PROTO": "true",
}

pytestmark = pytest.mark.django_db


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = service_env(
        DJANGO_SETTINGS_MODULE="inventory_site.settings",
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS=HOST,
        VAR_DIR=str(tmp_path / "var"),
        **extra,
    )
    for name in (*TLS_ENV, "SECURE_HSTS_INCLUDE_SUBDOMAINS", "SECURE_HSTS_PRELOAD"):
        if name not in extra:
            env.pop(name, None)  # only what the test names
    return env


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=180, check=False
    )


def test_check_deploy_reports_nothing_with_the_documented_production_values(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path, **TLS_ENV))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout
    assert "WARNING" not in result.stdout + result.stderr


def test_without_the_tls_variables_check_deploy_names_each_missing_one(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production_env(tmp_path))

    assert result.returncode != 0
    for check in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert check in result.stderr, result.stderr


# Requests through Django's test client inside a process that read the production environment.
_REQUESTS = f"""
import json
import django

django.setup()
from django.test import Client

client = Client(HTTP_HOST={HOST!r})
answers = {{}}
for name, path, proto in [
    ("api_plain", "/api/v1/warehouses/", None),
    ("api_proxied_http", "/api/v1/warehouses/", "http"),
    ("api_proxied_https", "/api/v1/warehouses/", "https"),
    ("health_plain", "/health", None),
    ("login_https", "/admin/login/", "https"),
]:
    extra = {{"HTTP_X_FORWARDED_PROTO": proto}} if proto else {{}}
    response = client.get(path, **extra)
    cookie = response.cookies.get("csrftoken")
    answers[name] = {{
        "status": response.status_code,
        "location": response.get("Location"),
        "hsts": response.get("Strict-Transport-Security"),
        "csrf_cookie_secure": bool(cookie and cookie["secure"]),
    }}
print(json.dumps(answers))
"""


def _answers(env: dict[str, str]) -> dict[str, dict]:
    result = _run(["-c", _REQUESTS], env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_behind_a_tls_proxy_only_plain_http_is_redirected_and_health_never(tmp_path):
    answers = _answers(_production_env(tmp_path, **TLS_ENV))

    # Plain HTTP (or a proxy saying the client used http) goes to https; the proxy's https passes.
    for name in ("api_plain", "api_proxied_http"):
        assert answers[name]["status"] == 301
        assert answers[name]["location"] == f"https://{HOST}/api/v1/warehouses/"
    assert answers["api_proxied_https"]["status"] == 401  # the API itself answered: no credentials
    assert answers["api_proxied_https"]["hsts"] == "max-age=31536000"
    # Load balancers probe /health over plain HTTP.
    assert answers["health_plain"]["status"] == 200
    assert answers["login_https"]["status"] == 200
    assert answers["login_https"]["csrf_cookie_secure"] is True


def test_without_trust_x_forwarded_proto_the_header_is_ignored(tmp_path):
    env = _production_env(tmp_path, **{**TLS_ENV, "TRUST_X_FORWARDED_PROTO": "false"})
    answers = _answers(env)

    # A client could send the header itself: unless told it comes from the proxy, it changes nothing.
    assert answers["api_proxied_https"]["status"] == 301


def test_defaults_neither_redirect_nor_mark_cookies_secure(tmp_path):
    answers = _answers(_production_env(tmp_path))

    assert answers["api_plain"]["status"] == 401
    assert answers["api_plain"]["hsts"] is None
    assert answers["login_https"]["csrf_cookie_secure"] is False
