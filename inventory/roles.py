"""The two staff roles, as Django groups.

``sync_roles`` is idempotent and takes an app registry, so data migrations (historical apps)
and tests (after a flush) can both call it. Apps that add models add their codenames here and
ship a data migration that calls ``sync_roles`` again.
"""

from __future__ import annotations

WAREHOUSE_GROUP = "warehouse"
STOREFRONT_GROUP = "storefront"

# app label -> permission codenames (None: every permission of the app)
ROLES: dict[str, dict[str, list[str] | None]] = {
    WAREHOUSE_GROUP: {"inventory": None, "reservations": None, "transfers": None, "forecasting": None},
    STOREFRONT_GROUP: {
        "inventory": ["view_warehouse", "view_category", "view_product", "view_inventoryitem"],
        "reservations": [
            "view_stockreservation",
            "add_stockreservation",
            "change_stockreservation",
            "view_reservationline",
        ],
    },
}


def _ensure_permissions(apps) -> None:
    # Permissions are normally created after migrate; a data migration needs them now.
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        had_models = getattr(app_config, "models_module", None)
        app_config.models_module = had_models or True
        create_permissions(app_config, verbosity=0, apps=apps)
        app_config.models_module = had_models


def sync_roles(apps) -> None:
    """Create the groups and give them their permissions (existing grants are kept)."""
    _ensure_permissions(apps)
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for group_name, grants in ROLES.items():
        group, _ = Group.objects.get_or_create(name=group_name)
        for app_label, codenames in grants.items():
            permissions = Permission.objects.filter(content_type__app_label=app_label)
            if codenames is not None:
                permissions = permissions.filter(codename__in=codenames)
            group.permissions.add(*permissions)
