"""Token authentication is remembered per process for AUTH_CACHE_SECONDS (1 s): revoking a token,
deactivating its user or taking its role away is refused by every server process after that long."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from contextlib import ExitStack

import pytest
from django.apps import apps
from django.contrib.auth.models import Group
from rest_framework.authtoken.models import Token

from inventory.roles import STOREFRONT_GROUP, sync_roles
from tests.factories import UserFactory
from tests.processes import service_env, serving_asgi

PATH = "/api/v1/warehouses/"
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def status_of(base_url: str, token: str) -> int:
    request = urllib.request.Request(base_url + PATH, headers={"Authorization": f"Token {token}"})
    try:
        with _LOCAL.open(request, timeout=10) as response:
            json.loads(response.read())
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def storefront_token() -> tuple[Token, object]:
    user = UserFactory()
    user.groups.add(Group.objects.get(name=STOREFRONT_GROUP))
    return Token.objects.create(user=user), user


@pytest.fixture
def two_servers(transactional_db, tmp_path):
    sync_roles(apps)  # transactional tests start from an empty database
    env = service_env(AUTH_CACHE_SECONDS="1")
    with ExitStack() as stack:
        yield [stack.enter_context(serving_asgi(env, tmp_path / f"server-{n}.log")) for n in (1, 2)]


def settle_past_the_bound() -> None:
    # The bound is a promise: after it, no process may still accept the old credentials.
    time.sleep(1.05)


@pytest.mark.parametrize(
    ("revoke", "refused"),
    [
        pytest.param(lambda token, user: token.delete(), 401, id="token deleted"),
        pytest.param(
            lambda token, user: type(user).objects.filter(pk=user.pk).update(is_active=False), 401, id="user off"
        ),
        pytest.param(lambda token, user: user.groups.clear(), 403, id="role removed"),
    ],
)
def test_a_revocation_reaches_every_process_within_a_second(two_servers, revoke, refused):
    token, user = storefront_token()
    key = token.key
    # Both processes resolve and remember the token (several requests each: served from memory).
    for base_url in two_servers:
        assert [status_of(base_url, key) for _ in range(3)] == [200, 200, 200]
    revoke(token, user)
    settle_past_the_bound()
    assert [status_of(base_url, key) for base_url in two_servers] == [refused, refused]


def test_a_new_role_is_granted_within_a_second_too(two_servers):
    user = UserFactory()
    key = Token.objects.create(user=user).key
    assert [status_of(base_url, key) for base_url in two_servers] == [403, 403]
    user.groups.add(Group.objects.get(name=STOREFRONT_GROUP))
    settle_past_the_bound()
    assert [status_of(base_url, key) for base_url in two_servers] == [200, 200]
