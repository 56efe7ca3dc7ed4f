"""A fresh install shows reorder suggestions at once: ``seed_demo`` computes the forecasts the nightly task stores."""

import pytest
from django.core.management import call_command
from django.urls import reverse

from forecasting.models import DemandForecast
from inventory.models import InventoryItem

pytestmark = pytest.mark.django_db


def test_seed_demo_computes_the_reorder_suggestions(client, warehouse_user, capsys):
    call_command("seed_demo")
    out = capsys.readouterr().out
    items = InventoryItem.objects.count()
    assert items > 0
    assert DemandForecast.objects.count() == items  # every item, as the nightly refresh does
    to_order = DemandForecast.objects.filter(recommended_order_quantity__gt=0).count()
    assert to_order > 0  # the demo has items running low
    assert f"Reorder suggestions computed for {items} items ({to_order} with something to order)." in out

    client.force_login(warehouse_user)
    response = client.get(reverse("admin:forecasting_demandforecast_changelist"))
    assert response.context["cl"].result_count == to_order

    # Seeded by a version that did not compute them: running the seed again fills them in.
    DemandForecast.objects.all().delete()
    call_command("seed_demo")
    assert "Demo data already present. Reorder suggestions computed" in capsys.readouterr().out
    assert DemandForecast.objects.count() == items
    call_command("seed_demo")
    assert "Demo data already present; nothing to do." in capsys.readouterr().out
