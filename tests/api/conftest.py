import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient


def _client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def warehouse_api(warehouse_user) -> APIClient:
    return _client_for(warehouse_user)


@pytest.fixture
def storefront_api(storefront_user) -> APIClient:
    return _client_for(storefront_user)


@pytest.fixture
def plain_api(plain_user) -> APIClient:
    return _client_for(plain_user)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()
