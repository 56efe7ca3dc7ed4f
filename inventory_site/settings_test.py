"""Settings for the test suite: the real PostgreSQL and Redis of the machine unless told otherwise."""

import os

os.environ.setdefault("SECRET_KEY", "insecure-test-key")
os.environ.setdefault("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/inventory")
os.environ.setdefault("REDIS_URL", "redis://127.0.0.1:6379/1")
os.environ.setdefault("CACHE_KEY_PREFIX", "invtest")
# Concurrency tests run up to 50 threads, each with its own connection: none should wait for the pool.
os.environ.setdefault("DB_POOL_SIZE", "60")
# The suite sends many requests as one user from one address: throttle only where a test asks for it
# (tests/security/test_throttling.py sets low rates, in-process and for the servers it starts).
os.environ.setdefault("API_THROTTLE_RATE", "1000000/min")
os.environ.setdefault("API_THROTTLE_ANON_RATE", "1000000/min")

from inventory_site.settings import *  # noqa: F403

# Hashing passwords at full strength would dominate the run time of the suite.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
