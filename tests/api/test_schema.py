"""The OpenAPI schema is complete and the API keeps to it: schemathesis finds no 5xx and no schema violation."""

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from rest_framework.authtoken.models import Token
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.factories import ProductFactory, stocked_item

EXPECTED_PATHS = {
    "/api/v1/warehouses/",
    "/api/v1/warehouses/{id}/",
    "/api/v1/products/",
    "/api/v1/products/{id}/",
    "/api/v1/inventory/{product_id}",
    "/api/v1/inventory/{product_id}/adjust",
    "/api/v1/inventory/{product_id}/transactions",
    "/api/v1/inventory/{product_id}/lots",
    "/api/v1/inventory/{product_id}/move-state",
    "/api/v1/inventory/barcode/{barcode}",
    "/api/v1/inventory/low-stock",
    "/api/v1/inventory/availability",
    "/api/v1/inventory/reserve",
    "/api/v1/inventory/reserve/{reservation_id}/confirm",
    "/api/v1/inventory/transfer",
    "/api/v1/inventory/transfer/{transfer_id}/start",
    "/api/v1/inventory/{product_id}/forecast",
    "/api/v1/events",
    "/api/v1/webhooks/",
    "/api/v1/webhooks/{id}/",
    "/api/v1/webhooks/{endpoint_id}/deliveries",
}


@pytest.fixture
def api_schema(transactional_db, live_server, warehouse_user):
    """The schema as served by a real server thread (pytest-django's live_server)."""
    stocked_item(20, product=ProductFactory(barcode="4006381333931"))
    stocked_item(3)
    return schemathesis.openapi.from_url(f"{live_server.url}/api/schema/?format=json")


@pytest.fixture
def token(warehouse_user) -> str:
    return Token.objects.get_or_create(user=warehouse_user)[0].key


@pytest.mark.django_db
def test_schema_documents_every_endpoint(client):
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    spec = response.json()
    assert set(spec["paths"]) >= EXPECTED_PATHS
    adjust = spec["paths"]["/api/v1/inventory/{product_id}/adjust"]["post"]
    assert {"200", "400", "401", "403", "404", "409"} <= set(adjust["responses"])
    assert client.get("/api/docs/").status_code == 200


def test_api_keeps_to_its_schema(api_schema, token):
    checks = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) >= 15
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
            def check(case):
                case.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=checks)

            try:
                check()
            except Unsatisfiable:
                # Some operations have nothing to make invalid (no parameters, no body).
                assert mode is GenerationMode.NEGATIVE, operation.label
