"""API throttling: 429 with ``retry_after`` past ``API_THROTTLE_RATE`` / ``API_THROTTLE_ANON_RATE``.

In this process through APIClient (on the test Redis), and through two real uvicorn processes that
share one Redis: together they admit exactly the rate, even when the requests arrive at once.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib.auth.models import Group
from django.test import override_settings
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from inventory.roles import STOREFRONT_GROUP, sync_roles
from tests.factories import UserFactory
from tests.processes import own_redis, service_env, serving_asgi

ROOT = Path(__file__).resolve().parents[2]
LIST = "/api/v1/warehouses/"
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _assert_throttled(status: int, body: dict, retry_after_header: str | None) -> None:
    assert status == 429
    assert body["code"] == "throttled"
    assert isinstance(body["detail"], str) and body["detail"]
    assert isinstance(body["retry_after"], int) and body["retry_after"] >= 1
    assert retry_after_header == str(body["retry_after"])


# --- in this process -----------------------------------------------------------------------------


@override_settings(API_THROTTLE_RATE="3/hour")
def test_a_user_over_the_rate_gets_429_with_retry_after_and_other_users_are_not_affected(storefront_api, warehouse_api):
    assert [storefront_api.get(LIST).status_code for _ in range(3)] == [200, 200, 200]

    response = storefront_api.get(LIST)
    _assert_throttled(response.status_code, response.json(), response.headers.get("Retry-After"))
    assert response.json()["retry_after"] <= 2 * 3600
    # Every route of the API shares the user's budget.
    assert storefront_api.get("/api/v1/products/").status_code == 429
    assert warehouse_api.get(LIST).status_code == 200


@override_settings(API_THROTTLE_ANON_RATE="3/hour")
def test_requests_without_valid_credentials_are_throttled_per_client_ip(storefront_api):
    anon = APIClient()
    assert [anon.get(LIST).status_code for _ in range(2)] == [401, 401]
    bad_token = APIClient(HTTP_AUTHORIZATION="Token not-a-real-token")
    assert bad_token.get(LIST).status_code == 401  # the third request from this address

    for client in (anon, bad_token, APIClient(HTTP_X_FORWARDED_FOR="203.0.113.9")):  # the header is not trusted
        response = client.get(LIST)
        _assert_throttled(response.status_code, response.json(), response.headers.get("Retry-After"))

    assert APIClient(REMOTE_ADDR="198.51.100.7").get(LIST).status_code == 401  # another address
    assert storefront_api.get(LIST).status_code == 200  # a valid token from the same address


@override_settings(API_THROTTLE_RATE="2/s")
def test_after_waiting_retry_after_seconds_the_next_request_is_admitted(storefront_api):
    for _ in range(2):
        assert storefront_api.get(LIST).status_code == 200
    refused = storefront_api.get(LIST)
    assert refused.status_code == 429
    time.sleep(refused.json()["retry_after"])
    assert storefront_api.get(LIST).status_code == 200


@override_settings(API_THROTTLE_RATE="off", API_THROTTLE_ANON_RATE="off")
def test_off_turns_throttling_off(storefront_api, anon_api):
    assert {storefront_api.get(LIST).status_code for _ in range(30)} == {200}
    assert {anon_api.get(LIST).status_code for _ in range(30)} == {401}


@override_settings(
    CACHES={"default": {"BACKEND": "django_prometheus.cache.backends.locmem.LocMemCache"}},
    API_THROTTLE_RATE="3/hour",
)
def test_on_the_local_memory_cache_of_the_embedded_default_the_same_limits_hold(storefront_api):
    statuses = [storefront_api.get(LIST).status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
    response = storefront_api.get(LIST)
    _assert_throttled(response.status_code, response.json(), response.headers.get("Retry-After"))


def test_throttling_fails_open_when_redis_is_unreachable(storefront_api):
    with own_redis() as redis_server:
        caches = copy.deepcopy(settings.CACHES)
        caches["default"]["LOCATION"] = redis_server.url()
        with override_settings(CACHES=caches, API_THROTTLE_RATE="2/hour"):
            assert [storefront_api.get(LIST).status_code for _ in range(3)] == [200, 200, 429]  # counted there
            redis_server.kill()
            assert [storefront_api.get(LIST).status_code for _ in range(5)] == [200] * 5


@pytest.mark.parametrize("value", ["abc", "10/fortnight", "0/min", "-5/min", "/min"])
def test_a_bad_rate_stops_start_up_with_one_line_naming_it(value):
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "inventory_site.settings_test", "API_THROTTLE_ANON_RATE": value}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "API_THROTTLE_ANON_RATE" in lines[0], result.stderr


# --- two real server processes on one Redis ------------------------------------------------------------


def _get(base_url: str, path: str, token: str | None = None) -> tuple[int, dict, str | None]:
    headers = {"Authorization": f"Token {token}"} if token else {}
    request = urllib.request.Request(f"{base_url}{path}", headers=headers)
    try:
        with _LOCAL.open(request, timeout=60) as response:
            return response.status, json.loads(response.read()), response.headers.get("Retry-After")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("Retry-After")


@pytest.fixture(scope="module")
def two_servers(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[list[str]]:
    """Two uvicorn processes on the test database and Redis, 20 requests an hour per user, 5 per IP."""
    with django_db_blocker.unblock():
        env = service_env(
            API_THROTTLE_RATE="20/hour",
            API_THROTTLE_ANON_RATE="5/hour",
            BENCHMARK_ROUTES="1",
            # Counters of their own, whatever else uses this Redis database.
            CACHE_KEY_PREFIX=f"{settings.KEY_PREFIX}-throttle-{uuid.uuid4().hex[:8]}",
            DB_POOL_SIZE="4",
        )
    logs = tmp_path_factory.mktemp("throttle-servers")
    with contextlib.ExitStack() as stack:
        yield [stack.enter_context(serving_asgi(env, logs / f"uvicorn-{n}.log")) for n in (1, 2)]


def _token() -> str:
    """A new storefront user's API token (transactional tests flush the groups: put them back first)."""
    sync_roles(apps)
    user = UserFactory()
    user.groups.add(Group.objects.get(name=STOREFRONT_GROUP))
    return Token.objects.create(user=user).key


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_servers_together_admit_exactly_the_rate_per_token(two_servers):
    token, other = _token(), _token()
    results = [_get(two_servers[n % 2], LIST, token) for n in range(26)]

    assert [status for status, _, _ in results] == [200] * 20 + [429] * 6
    for status, body, header in results[20:]:
        _assert_throttled(status, body, header)
    # Another token has a budget of its own; /health and the benchmark baseline are never throttled.
    for base_url in two_servers:
        assert _get(base_url, LIST, other)[0] == 200
        assert _get(base_url, "/health")[0] == 200
        assert _get(base_url, "/api/v1/bench/constant", token)[0] == 200


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_servers_admit_exactly_the_rate_when_requests_arrive_at_once(two_servers):
    token = _token()
    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = list(pool.map(lambda n: _get(two_servers[n % 2], LIST, token)[0], range(60)))

    assert sorted(statuses) == [200] * 20 + [429] * 40


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_two_servers_throttle_requests_without_credentials_per_ip(two_servers):
    results = [_get(two_servers[n % 2], LIST) for n in range(8)]

    assert [status for status, _, _ in results] == [401] * 5 + [429] * 3
    for status, body, header in results[5:]:
        _assert_throttled(status, body, header)
    assert _get(two_servers[0], LIST, _token())[0] == 200  # a valid token from the same address is not
