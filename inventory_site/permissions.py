"""Roles for the API: group ``storefront`` reads stock and reserves; group ``warehouse`` does everything."""

from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request

from inventory.roles import STOREFRONT_GROUP, WAREHOUSE_GROUP


def roles_of(user) -> frozenset[str]:
    """The user's role names, read once per request."""
    if not user or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_stock_roles", None)
    if cached is None:
        names = set(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            names.add(WAREHOUSE_GROUP)
        cached = user._stock_roles = frozenset(names & {WAREHOUSE_GROUP, STOREFRONT_GROUP})
    return cached


def is_warehouse_staff(user) -> bool:
    return WAREHOUSE_GROUP in roles_of(user)


class HasStockRole(BasePermission):
    """Storefront or warehouse: anything else is refused (anonymous with 401)."""

    message = "Your account has no inventory role (storefront or warehouse)."

    def has_permission(self, request: Request, view) -> bool:
        return bool(roles_of(request.user))


class IsWarehouseStaff(BasePermission):
    message = "Only warehouse staff may do this."

    def has_permission(self, request: Request, view) -> bool:
        return is_warehouse_staff(request.user)


class ReadAnyRoleWriteWarehouse(BasePermission):
    """Both roles read; only warehouse staff write."""

    message = "Only warehouse staff may change this."

    def has_permission(self, request: Request, view) -> bool:
        if request.method in SAFE_METHODS:
            return bool(roles_of(request.user))
        return is_warehouse_staff(request.user)
