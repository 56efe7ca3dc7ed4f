"""ASGI entry point: HTTP through Django, WebSocket through Channels, ``/socket.io/`` through python-socketio,
and on the embedded default the relay.

Lifespan: where the cache and channel layer live in the web process (no Redis), the relay runs here as
a task on the server's event loop (``inventory.relay.run_in_process``), so changes made by the Celery
worker reach this process's cache and live feed. With Redis, ``relay_events`` is its own process.
"""

import asyncio
import logging
import os

from django.core.asgi import get_asgi_application

from inventory_site.log_redaction import install as install_log_redaction

# However uvicorn is started (runstack, make serve's workers, tests), it has configured its loggers before
# importing this module: from here on no log line shows a ?token= or ?ticket= value.
install_log_redaction()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_site.settings")

# Django must be set up before anything imports models (the WebSocket routes do). Django's own ASGI
# handler is kept as ``django_asgi_app``: the bench's ``floor`` serves it as the baseline.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from inventory.socket_io import server as socket_io  # noqa: E402
from inventory.ws_auth import OriginCheck, TokenAuthMiddlewareStack  # noqa: E402
from inventory.ws_limits import MessageSizeLimit  # noqa: E402
from inventory_site.routing import websocket_urlpatterns  # noqa: E402
from inventory_site.sync_http import SyncDjangoHTTP  # noqa: E402

logger = logging.getLogger(__name__)

router = ProtocolTypeRouter(
    {
        # Django's sync stack once per request in a thread pool (see sync_http: about twice the rate).
        "http": SyncDjangoHTTP(),
        # A page from another site cannot ride on the session cookie; token clients need no Origin.
        # A message over WS_MAX_MESSAGE_BYTES closes the socket (1009) before any of it is parsed.
        "websocket": MessageSizeLimit(OriginCheck(TokenAuthMiddlewareStack(URLRouter(websocket_urlpatterns)))),
    }
)


def _relay_ended(task: asyncio.Task) -> None:
    """The in-process relay only ends at shutdown: say so loudly if it ever stops on its own."""
    if not task.cancelled() and task.exception() is not None:
        logger.error("relay: the in-process relay stopped", exc_info=task.exception())


async def application(scope, receive, send):
    """The router, plus the ASGI lifespan protocol that starts and stops the in-process relay."""
    if scope["type"] != "lifespan":
        if (scope["path"] + "/").startswith(socket_io.PATH):
            # The seed's Socket.IO clients, polling and WebSocket (inventory/socket_io); same port as the rest.
            return await socket_io.app(scope, receive, send)
        return await router(scope, receive, send)
    stop = asyncio.Event()
    task = None
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.RELAY_IN_PROCESS:
                from inventory.relay import run_in_process

                task = asyncio.create_task(run_in_process(stop))
                task.add_done_callback(_relay_ended)
                logger.info("relay: running inside this web process (embedded default)")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            stop.set()
            if task is not None:
                try:
                    await asyncio.wait_for(task, 10)
                except Exception:
                    logger.exception("relay: stopping the in-process relay failed")
            await send({"type": "lifespan.shutdown.complete"})
            return
