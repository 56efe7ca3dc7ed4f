from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from inventory.import_views import stock_import
from inventory.metrics import metrics_view
from inventory.ops_views import OpsActivityView, OpsDashboardView, ops_page
from inventory.scan_views import scan_station
from inventory_site.health import health

handler404 = "inventory_site.api_errors.json_not_found"
handler500 = "inventory_site.api_errors.json_server_error"

api_v1 = [
    path("", include("inventory.urls")),
    path("", include("reservations.urls")),
    path("", include("forecasting.urls")),
    path("", include("transfers.urls")),
]

urlpatterns = [
    # Back-office pages that are not a model's: before "admin/", which would take them for a model URL.
    path("admin/inventory/scan/", admin.site.admin_view(scan_station), name="scan_station"),
    path("admin/inventory/import/", admin.site.admin_view(stock_import), name="stock_import"),
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("ops/", ops_page, name="ops"),
    path("ops/api/dashboard", OpsDashboardView.as_view(), name="ops-dashboard"),
    path("ops/api/activity", OpsActivityView.as_view(), name="ops-activity"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

if settings.BENCHMARK_ROUTES:
    from inventory_site.bench_views import constant_view

    urlpatterns.append(path("api/v1/bench/constant", constant_view))
