from django.urls import path

from reservations import views

urlpatterns = [
    path("inventory/reserve", views.ReserveView.as_view(), name="reserve"),
    path("inventory/reserve/<uuid:reservation_id>", views.ReservationDetailView.as_view(), name="reservation"),
    path("inventory/reserve/<uuid:reservation_id>/confirm", views.ConfirmView.as_view(), name="reservation-confirm"),
    path("inventory/reserve/<uuid:reservation_id>/release", views.ReleaseView.as_view(), name="reservation-release"),
    path("inventory/reserve/<uuid:reservation_id>/extend", views.ExtendView.as_view(), name="reservation-extend"),
]
