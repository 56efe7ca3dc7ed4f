"""Settings for the embedded test run (``make test``'s second pytest run, ``tests/embedded``).

What it tests is the embedded default of ``make run``: SQLite (IMMEDIATE transactions, WAL), the
local-memory cache, the in-memory channel layer and the filesystem Celery broker. So every variable
that would switch to PostgreSQL or Redis is removed before the real settings are read: CI exports
``DATABASE_URL`` / ``REDIS_URL`` for the PostgreSQL run, and they must not leak into this one.

Everything lives in ``var/test-embedded/`` (or ``TEST_VAR_DIR``), never in a developer's
``var/db.sqlite3``. The test database is a file, not ``:memory:``: the concurrency tests open one
connection per thread, and they must all see the same database.
"""

import os
from pathlib import Path

for _name in (
    "DATABASE_URL",
    "DB_HOST",
    "DB_PORT",
    "DB_NAME",
    "DB_USER",
    "DB_PASSWORD",
    "SQLITE_PATH",
    "REDIS_URL",
    "REDIS_HOST",
    "REDIS_PORT",
    "REDIS_DB",
):
    os.environ.pop(_name, None)

_BASE_DIR = Path(__file__).resolve().parent.parent
# TEST_VAR_DIR: lets two embedded runs in one checkout (or a read-only checkout) use their own files.
TEST_VAR_DIR = Path(os.environ.get("TEST_VAR_DIR") or _BASE_DIR / "var" / "test-embedded").resolve()
os.environ["VAR_DIR"] = str(TEST_VAR_DIR)
os.environ.setdefault("SECRET_KEY", "insecure-test-key")

from inventory_site.settings import *  # noqa: E402, F403
from inventory_site.settings import DATABASES  # noqa: E402

EMBEDDED_TEST_RUN = True  # tests/conftest.py: collect only tests/embedded, expect SQLite

DATABASES["default"]["TEST"] = {"NAME": str(TEST_VAR_DIR / "test-db.sqlite3")}

# Hashing passwords at full strength would dominate the run time of the suite.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
