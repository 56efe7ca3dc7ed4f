"""ASGI entry point: HTTP through Django, WebSocket through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_site.settings")

# Django must be set up before anything imports models (the WebSocket routes do).
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from inventory.ws_auth import OriginCheck, TokenAuthMiddlewareStack  # noqa: E402
from inventory_site.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        # A page from another site cannot ride on the session cookie; token clients need no Origin.
        "websocket": OriginCheck(TokenAuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
