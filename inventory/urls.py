from django.urls import path
from rest_framework.routers import SimpleRouter

from inventory import alert_views, event_views, lot_views, views, ws_ticket_views
from inventory.webhooks import views as webhook_views

router = SimpleRouter()
router.register("warehouses", views.WarehouseViewSet, basename="warehouse")
router.register("products", views.ProductViewSet, basename="product")
router.register("webhooks", webhook_views.WebhookEndpointViewSet, basename="webhook")

# Paths follow the seed's contract exactly (no trailing slash under /inventory/).
urlpatterns = [
    path("inventory/low-stock", views.LowStockView.as_view(), name="low-stock"),
    path("inventory/availability", views.AvailabilityView.as_view(), name="availability"),
    path("inventory/barcode/<str:barcode>", views.BarcodeView.as_view(), name="barcode"),
    path("inventory/<int:product_id>", views.ProductStockView.as_view(), name="product-stock"),
    path("inventory/<int:product_id>/adjust", views.AdjustStockView.as_view(), name="adjust-stock"),
    path("inventory/<int:product_id>/transactions", views.TransactionListView.as_view(), name="transactions"),
    path("inventory/<int:product_id>/lots", lot_views.ProductLotsView.as_view(), name="product-lots"),
    path("inventory/<int:product_id>/move-state", lot_views.MoveStockStateView.as_view(), name="move-stock-state"),
    *router.urls,
    path("events", event_views.EventFeedView.as_view(), name="events"),
    path("alerts/low-stock", alert_views.LowStockAlertListView.as_view(), name="low-stock-alerts"),
    path(
        "alerts/low-stock/<int:alert_id>/acknowledge",
        alert_views.AcknowledgeLowStockAlertView.as_view(),
        name="low-stock-alert-acknowledge",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries",
        webhook_views.WebhookDeliveryListView.as_view(),
        name="webhook-deliveries",
    ),
    path(
        "webhooks/<int:endpoint_id>/deliveries/<int:delivery_id>/retry",
        webhook_views.RetryWebhookDeliveryView.as_view(),
        name="webhook-delivery-retry",
    ),
    path("ws-tickets", ws_ticket_views.WebSocketTicketView.as_view(), name="ws-tickets"),
]
