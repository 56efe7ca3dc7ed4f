"""``/metrics`` with ``METRICS_TOKEN``: Bearer token required when set, open as before when not."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.test import Client

from tests.factories import stocked_item
from tests.processes import service_env, serving_asgi

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "s3cr3t-metrics-token-for-tests"
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))

pytestmark = pytest.mark.django_db


@pytest.fixture
def metrics_token(settings) -> str:
    settings.METRICS_TOKEN = TOKEN
    settings.METRICS_CACHE_SECONDS = 0
    return TOKEN


def _assert_refused(response) -> None:
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    body = response.json()
    assert body["code"] == "not_authenticated" and body["detail"]
    assert "inventory_stock_levels" not in response.content.decode()


def test_with_a_token_set_the_right_bearer_token_reads_the_metrics(metrics_token):
    item = stocked_item(7)

    for scheme in ("Bearer", "bearer"):
        response = Client().get("/metrics", HTTP_AUTHORIZATION=f"{scheme} {metrics_token}")
        assert response.status_code == 200
        text = response.content.decode()
        assert f'product_id="{item.product_id}"' in text and "inventory_stock_levels" in text


@pytest.mark.parametrize(
    "authorization",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        f"Token {TOKEN}",
        f"Basic {TOKEN}",
        "Bearer wrong",
        f"Bearer {TOKEN}x",
        "Bearer ünï",  # not ASCII: compare_digest on str would raise (a 500)
    ],
)
def test_with_a_token_set_anything_else_is_401_json(metrics_token, authorization):
    extra = {} if authorization is None else {"HTTP_AUTHORIZATION": authorization}
    _assert_refused(Client().get("/metrics", **extra))


def test_without_a_token_metrics_stay_open(settings):
    settings.METRICS_TOKEN = ""
    response = Client().get("/metrics")
    assert response.status_code == 200
    assert "inventory_metrics_up" in response.content.decode()


def test_a_token_that_cannot_travel_in_a_header_stops_start_up():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "inventory_site.settings_test", "METRICS_TOKEN": "two words"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "METRICS_TOKEN" in lines[0], result.stderr


@pytest.mark.slow
def test_through_a_real_server_only_the_token_opens_metrics(tmp_path):
    with serving_asgi(service_env(METRICS_TOKEN=TOKEN), tmp_path / "uvicorn.log") as base_url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            _LOCAL.open(f"{base_url}/metrics", timeout=60)
        assert refused.value.code == 401
        assert refused.value.headers["WWW-Authenticate"].startswith("Bearer")

        request = urllib.request.Request(f"{base_url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        with _LOCAL.open(request, timeout=60) as response:
            assert response.status == 200
            assert "inventory_metrics_up 1.0" in response.read().decode()
