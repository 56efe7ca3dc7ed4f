from __future__ import annotations

import pytest

from inventory.webhooks import services
from tests.webhooks.support import Receiver


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def private_urls(settings):
    """The test receiver listens on 127.0.0.1, which webhooks refuse unless allowed."""
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    return settings


@pytest.fixture
def endpoint_for(private_urls):
    def make(receiver: Receiver, events: list[str] | None = None, **fields):
        return services.create_endpoint(url=receiver.url, events=events or ["*"], **fields)

    return make
