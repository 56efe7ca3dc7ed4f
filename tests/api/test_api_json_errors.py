"""Everything under /api/ answers JSON errors, whatever DEBUG is (issue 11 g); other paths keep Django's pages."""

import json
import logging
import urllib.error
import urllib.request

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from inventory.models import InventoryItem, Product
from tests.factories import stocked_item
from tests.processes import free_port, running, service_env, wait_until


def _boom(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug in a view")


@require_POST
def _post_only(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


# The project's routes plus two plain Django views under /api/ that fail the way only Django can answer.
urlpatterns = [
    path("api/test/boom", _boom),
    path("api/test/post-only", _post_only),
    path("", include("inventory_site.urls")),
]
handler404 = "inventory_site.api_errors.json_not_found"
handler500 = "inventory_site.api_errors.json_server_error"


def _json_error(response, status: int, code: str) -> dict:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json", response.content[:200]
    body = response.json()
    assert body["code"] == code and body["detail"], body
    return body


@pytest.fixture(params=[True, False], ids=["debug", "no-debug"])
def debug(request):
    with override_settings(DEBUG=request.param):
        yield request.param


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("url", "detail"),
    [
        ("/api/v1/nope", "No endpoint at /api/v1/nope."),
        ("/api/v1/inventory/reserve/not-a-uuid", "No endpoint at /api/v1/inventory/reserve/not-a-uuid."),
        ("/api/v1/inventory/12/nope", "No endpoint at /api/v1/inventory/12/nope."),
    ],
)
def test_unknown_paths_and_malformed_ids_are_json_404s(client, debug, url, detail):
    assert _json_error(client.get(url), 404, "not_found")["detail"] == detail


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_a_method_a_plain_view_refuses_is_a_json_405_that_keeps_allow(client, debug):
    response = client.get("/api/test/post-only")
    body = _json_error(response, 405, "method_not_allowed")
    assert body["detail"] == "Method GET is not allowed at /api/test/post-only."
    assert response["Allow"] == "POST"


@pytest.mark.django_db
@pytest.mark.urls(__name__)
def test_an_unhandled_exception_is_a_logged_json_500(debug, caplog):
    client = Client(raise_request_exception=False)
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = client.get("/api/test/boom")
    body = _json_error(response, 500, "server_error")
    assert body == {"code": "server_error", "detail": "Something went wrong on our side; it has been logged."}
    assert b"RuntimeError" not in response.content  # no traceback leaks, even under DEBUG
    logged = [r for r in caplog.records if r.name == "django.request" and r.levelno == logging.ERROR]
    assert logged and logged[0].exc_info[0] is RuntimeError


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_a_request_django_refuses_before_any_view_is_a_json_400(client):
    body = _json_error(client.get("/api/v1/nope", HTTP_HOST="evil.example"), 400, "malformed_request")
    assert body["detail"] == "The request could not be understood."


@pytest.mark.django_db
@override_settings(DEBUG=True)
def test_pages_outside_the_api_keep_djangos_error_pages(client):
    response = client.get("/nope")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")


# --- a real server started the way `make run` does (DEBUG=true) ---------------------------------------


def _request(port: int, url: str, *, data: bytes | None = None, headers: dict | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{url}", data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


def _json(answer: tuple, status: int, code: str) -> dict:
    got_status, headers, content = answer
    assert (got_status, headers["Content-Type"]) == (status, "application/json"), content[:300]
    body = json.loads(content)
    assert body["code"] == code and body["detail"], body
    return body


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_debug_server_answers_json_errors_under_the_api(tmp_path, storefront_user):
    token = Token.objects.create(user=storefront_user).key
    auth = {"Authorization": f"Token {token}"}
    port = free_port()

    def up():
        try:
            return _request(port, "/health")[0]
        except OSError:
            return None

    uvicorn = ["uvicorn", "inventory_site.asgi:application", "--port", str(port)]
    with running(uvicorn, service_env(DEBUG="true"), tmp_path / "server.log"):
        wait_until(up, timeout=60, message="the server to answer /health")

        assert _json(_request(port, "/api/v1/nope"), 404, "not_found")["detail"] == "No endpoint at /api/v1/nope."
        _json(_request(port, "/api/v1/inventory/reserve/not-a-uuid", headers=auth), 404, "not_found")
        # A browser's Accept picks DRF's browsable API under DEBUG: an error still comes back as its JSON body.
        browser = {**auth, "Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
        body = _json(_request(port, "/api/v1/inventory/999999999", headers=browser), 404, "not_found")
        assert body["detail"] == "Unknown product 999999999."
        post = {**auth, "Content-Type": "application/json"}
        _json(_request(port, "/api/v1/inventory/reserve", data=b"[" * 1100, headers=post), 400, "malformed_request")
        big = json.dumps({"product_id": 1, "quantity": 1, "notes": "x" * 2_700_000}).encode()
        _json(_request(port, "/api/v1/inventory/reserve", data=big, headers=post), 413, "payload_too_large")
        # Outside /api/ DEBUG keeps Django's page for developers.
        status, headers, _ = _request(port, "/nope")
        assert status == 404 and headers["Content-Type"].startswith("text/html")


@pytest.mark.django_db
@pytest.mark.parametrize("debug", [True, False])
def test_a_post_without_the_trailing_slash_is_a_json_404_naming_the_right_path(warehouse_api, debug):
    with override_settings(DEBUG=debug):
        response = warehouse_api.post("/api/v1/products", {"sku": "S-1", "name": "x"}, format="json")
    assert response.status_code == 404 and response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"
    assert "Did you mean /api/v1/products/?" in response.json()["detail"]
    assert not Product.objects.exists()


@pytest.mark.django_db
def test_an_idempotency_key_with_a_control_character_is_a_400(warehouse_api):
    item = stocked_item(5)
    response = warehouse_api.post(
        f"/api/v1/inventory/{item.product_id}/adjust",
        {"warehouse_id": item.warehouse_id, "quantity_change": -1, "transaction_type": "adjustment"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="ab\x00cd",
    )
    assert response.status_code == 400 and response.json()["code"] == "invalid"
    assert InventoryItem.objects.get(pk=item.pk).available_quantity == 5
