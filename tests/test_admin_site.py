"""The admin as a front door: where "View site" leads, the index links, and how the first login is shown."""

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.management import call_command

from inventory.management.commands.ensure_admin import admin_login_line, manage_command, store_password
from tests.factories import UserFactory
from tests.processes import free_port
from tests.test_startup import ROOT, _embedded_env, _manage

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def var_dir(settings, tmp_path) -> Path:
    settings.VAR_DIR = tmp_path / "var"
    return settings.VAR_DIR


def test_view_site_leads_to_the_ops_page(admin_client):
    assert str(admin.site.site_url) == "/ops/"
    page = admin_client.get("/admin/").content.decode()
    assert '<a href="/ops/">View site</a>' in page
    assert admin_client.get("/ops/").status_code == 200


def test_the_admin_index_links_the_ops_page_and_the_api_docs(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    assert '<a href="/ops/">Ops live page</a>' in page
    assert '<a href="/api/docs/">API docs</a>' in page
    assert "Inventory items" in page  # the models are still listed
    assert admin_client.get("/api/docs/").status_code == 200


def test_ensure_admin_keeps_the_password_private_instead_of_printing_it(var_dir, capsys):
    call_command("ensure_admin")
    out = capsys.readouterr().out
    path = var_dir / "admin-password"
    password = path.read_text().strip()
    assert password and password not in out
    assert "admin-password" in out
    assert path.stat().st_mode & 0o777 == 0o600
    assert get_user_model().objects.get(username="admin").check_password(password)

    call_command("ensure_admin")
    assert "already exists" in capsys.readouterr().out
    assert path.read_text().strip() == password


def test_a_stored_password_file_is_tightened_to_owner_only(tmp_path):
    path = tmp_path / "admin-password"
    path.write_text("old\n")
    path.chmod(0o644)
    store_password("new-secret", path=path)
    assert (path.read_text(), path.stat().st_mode & 0o777) == ("new-secret\n", 0o600)


def test_the_login_line_shows_the_password_only_while_it_works(var_dir):
    get_user_model().objects.create_superuser("admin", "admin@example.com", "first-pass-123")
    store_password("first-pass-123")
    line = admin_login_line(host="0.0.0.0", port=8000)
    assert line == "Admin: http://127.0.0.1:8000/admin/  user admin  password first-pass-123"

    user = get_user_model().objects.get(username="admin")
    user.set_password("changed-pass-456")
    user.save()
    line = admin_login_line(host="127.0.0.1", port=8001)
    assert "first-pass-123" not in line and "changed-pass-456" not in line
    assert line == (
        "Admin: http://127.0.0.1:8001/admin/  user admin  "
        f"(password not shown; to reset it: {manage_command()} changepassword admin)"
    )
    assert not (var_dir / "admin-password").exists()  # an old secret does not linger


def test_the_login_line_names_an_existing_superuser_or_says_how_to_create_one(var_dir):
    assert "no superuser yet; create one with: " in admin_login_line(host="localhost", port=8000)
    get_user_model().objects.create_superuser("boss", "boss@example.com", "boss-pass-789")
    assert admin_login_line(host="localhost", port=8000).endswith("changepassword boss)")


def test_the_reset_command_is_the_one_to_type_where_the_server_runs(monkeypatch):
    monkeypatch.setattr(sys, "executable", str(ROOT / ".venv" / "bin" / "python"))
    assert manage_command() == ".venv/bin/python manage.py"
    monkeypatch.setattr(sys, "executable", "/usr/local/bin/python")  # e.g. the Docker image
    assert manage_command() == "python manage.py"


def log_in(base_url: str, username: str, password: str) -> str:
    """Log in through the admin's login form like a browser; returns the path it lands on."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()), urllib.request.ProxyHandler({})
    )
    with opener.open(f"{base_url}/admin/login/", timeout=10) as response:
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.read().decode()).group(1)
    form = urllib.parse.urlencode(
        {"csrfmiddlewaretoken": token, "username": username, "password": password, "next": "/admin/"}
    )
    request = urllib.request.Request(f"{base_url}/admin/login/", data=form.encode(), headers={"Referer": base_url})
    with opener.open(request, timeout=10) as response:
        return urllib.parse.urlsplit(response.url).path


@pytest.mark.slow
def test_runstack_prints_a_working_admin_login_last_once_the_servers_are_up(tmp_path):
    env = _embedded_env(tmp_path)
    for command in (["migrate", "--noinput"], ["ensure_admin"]):
        result = _manage(*command, env=env)
        assert result.returncode == 0, result.stderr
    password = (tmp_path / "var" / "admin-password").read_text().strip()
    assert password not in result.stdout  # not among the set-up lines of `make run`

    port = free_port()
    stack = subprocess.Popen(
        [sys.executable, "manage.py", "runstack", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: list[str] = []
    try:
        os.set_blocking(stack.stdout.fileno(), False)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not any(line.startswith("Admin: ") for line in lines):
            line = stack.stdout.readline()
            if line:
                lines.append(line.rstrip("\n"))
            elif stack.poll() is not None:
                break
            else:
                time.sleep(0.1)
        output = "\n".join(lines)
        admin_line = next((line for line in lines if line.startswith("Admin: ")), None)
        assert admin_line == f"Admin: http://127.0.0.1:{port}/admin/  user admin  password {password}", output[-3000:]
        # After the start-up logs of both servers, not among them.
        assert any("Uvicorn running" in line for line in lines[: lines.index(admin_line)]), output[-3000:]
        assert any(line.endswith(" ready.") for line in lines[: lines.index(admin_line)]), output[-3000:]
        assert log_in(f"http://127.0.0.1:{port}", "admin", password) == "/admin/"  # the printed login works
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
            stack.wait(timeout=10)
