from django.urls import path

from transfers import views

# Paths follow the seed's contract exactly (no trailing slash under /inventory/).
urlpatterns = [
    path("inventory/transfer", views.TransferCollectionView.as_view(), name="transfers"),
    path("inventory/transfer/<str:transfer_id>", views.TransferDetailView.as_view(), name="transfer"),
    path("inventory/transfer/<str:transfer_id>/start", views.StartTransferView.as_view(), name="transfer-start"),
    path(
        "inventory/transfer/<str:transfer_id>/complete",
        views.CompleteTransferView.as_view(),
        name="transfer-complete",
    ),
    path("inventory/transfer/<str:transfer_id>/cancel", views.CancelTransferView.as_view(), name="transfer-cancel"),
]
