"""``ensure_admin``: the first superuser of a fresh install, and the admin login line ``runstack`` prints.

The generated password is kept in ``VAR_DIR/admin-password`` (mode 0600, like the SQLite file next
to it) instead of being printed here: ``make run`` prints it after the servers are up, where it is
not lost between migration lines, and only while it still works.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import DatabaseError

ADMIN_USERNAME = "admin"
PASSWORD_FILE_NAME = "admin-password"


def password_file() -> Path:
    """Where the generated admin password is kept."""
    return Path(settings.VAR_DIR) / PASSWORD_FILE_NAME


def store_password(password: str, *, path: Path | None = None) -> Path:
    """Write ``password`` to ``path`` (default ``password_file()``), readable and writable by the owner only."""
    path = path or password_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the mode of open() applies only to a new file; tighten an existing one
        os.write(fd, f"{password}\n".encode())
    finally:
        os.close(fd)
    return path


def manage_command() -> str:
    """How to run ``manage.py`` here: ``.venv/bin/python manage.py`` in a checkout, ``python manage.py`` elsewhere."""
    python = Path(sys.executable)
    try:
        python = python.relative_to(settings.BASE_DIR)
    except ValueError:
        return "python manage.py"  # e.g. the Docker image's system Python
    return f"{python} manage.py"


def browsable_host(host: str) -> str:
    """The host part of a URL a browser on this machine can open for a server listening on ``host``."""
    if host in {"", "0.0.0.0"}:
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def admin_login_line(*, host: str, port: int, path: Path | None = None) -> str:
    """The "Admin: URL  user …  password …" line, with the stored password only while it still works.

    Otherwise it says how to reset the password (or create a superuser). A stored password that no
    longer works is deleted: it was changed, and an old secret should not linger in ``var/``.
    """
    url = f"http://{browsable_host(host)}:{port}/admin/"
    path = path or password_file()
    manage = manage_command()
    try:
        stored = path.read_text().strip()
    except OSError:
        stored = ""
    User = get_user_model()
    try:
        user = User.objects.filter(**{User.USERNAME_FIELD: ADMIN_USERNAME}, is_active=True).first()
        if user is not None and stored and user.check_password(stored):
            return f"Admin: {url}  user {ADMIN_USERNAME}  password {stored}"
        if user is None:
            user = User.objects.filter(is_superuser=True, is_active=True).order_by("pk").first()
    except DatabaseError:
        return f"Admin: {url}"
    if stored:
        path.unlink(missing_ok=True)
    if user is None:
        return f"Admin: {url}  no superuser yet; create one with: {manage} ensure_admin"
    username = user.get_username()
    return f"Admin: {url}  user {username}  (password not shown; to reset it: {manage} changepassword {username})"


class Command(BaseCommand):
    help = (
        f"Create the superuser '{ADMIN_USERNAME}' with a random password unless a superuser exists; "
        f"the password is kept in VAR_DIR/{PASSWORD_FILE_NAME} (mode 0600) and printed by runstack."
    )

    def handle(self, *args, **options) -> None:
        User = get_user_model()
        if User.objects.filter(is_superuser=True).exists():
            self.stdout.write("A superuser already exists; not creating one.")
            return
        password = secrets.token_urlsafe(12)
        User.objects.create_superuser(ADMIN_USERNAME, "admin@example.com", password)
        try:
            path = store_password(password)
        except OSError as exc:
            # Nowhere to keep it: show it now rather than lose it.
            self.stdout.write(
                f"Superuser '{ADMIN_USERNAME}' created with password {password} "
                f"(could not store it in {password_file()}: {exc.strerror}). It is shown only once."
            )
            return
        shown = os.path.relpath(path) if path.is_relative_to(Path.cwd()) else path
        self.stdout.write(
            f"Superuser '{ADMIN_USERNAME}' created; its password is in {shown} (readable only by you) "
            "and is printed once the server is up."
        )
