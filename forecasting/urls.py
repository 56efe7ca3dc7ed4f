from django.urls import path

from forecasting import views

urlpatterns = [
    path("inventory/<int:product_id>/forecast", views.ForecastView.as_view(), name="forecast"),
]
