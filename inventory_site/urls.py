from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from inventory.metrics import metrics_view
from inventory.ops_views import ops_page
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
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("metrics", metrics_view, name="metrics"),
    path("ops/", ops_page, name="ops"),
    path("api/v1/", include(api_v1)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
]

if settings.BENCHMARK_ROUTES:
    from inventory_site.bench_views import constant_view

    urlpatterns.append(path("api/v1/bench/constant", constant_view))
