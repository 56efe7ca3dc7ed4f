"""WebSocket routes (the live feed is added by the real-time issue)."""

websocket_urlpatterns: list = []
