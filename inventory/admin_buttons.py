"""State buttons on an admin detail page (a transfer's Start / Complete / Cancel, a reservation's Confirm / Release).

Each button is a small POST form (with the CSRF token) to ``<object>/<button>/``, a view that calls
one service and goes back to the detail page with what happened as a message. A domain error (the
transfer was started meanwhile, the reservation expired) becomes an error message, never a 500; the
service decides, so a button from a stale page is refused by the same rules as the API.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from django.contrib import messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Model
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.views.decorators.http import require_POST

from inventory.exceptions import DomainError

TEMPLATE = "admin/change_form_state_buttons.html"


@dataclass(frozen=True, kw_only=True)
class StateButton:
    """One transition offered on the detail page while ``applies(obj)``."""

    name: str  # URL segment: "start" -> <object>/start/
    label: str  # "Start"
    title: str  # what it does, shown on hover
    applies: Callable[[Model], bool]
    run: Callable[[HttpRequest, Model], str]  # calls the service; returns the success message
    danger: bool = False  # styled as a destructive action


class StateButtonsMixin:
    """``ModelAdmin`` mixin: lists ``state_buttons`` on the change page and serves their POSTs."""

    change_form_template = TEMPLATE
    state_buttons: Sequence[StateButton] = ()

    def state_summary(self, obj: Model) -> str:
        """One line above the buttons saying where the object stands (HTML-safe or plain text)."""
        return ""

    def _button_url_name(self, button: StateButton) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{button.name}"

    def get_urls(self) -> list:
        # Before the admin's own: its "<path:object_id>/" catch-all would otherwise take these.
        buttons = [
            path(
                f"<path:object_id>/{button.name}/",
                self.admin_site.admin_view(require_POST(partial(self.state_button_view, button=button))),
                name=self._button_url_name(button),
            )
            for button in self.state_buttons
        ]
        return [*buttons, *super().get_urls()]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        offered, summary = [], ""
        if obj is not None:
            summary = self.state_summary(obj)
            if self.has_change_permission(request, obj):
                offered = [
                    {"button": b, "url": reverse(f"admin:{self._button_url_name(b)}", args=[obj.pk])}
                    for b in self.state_buttons
                    if b.applies(obj)
                ]
        context = {"state_buttons": offered, "state_summary": summary, **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def state_button_view(self, request: HttpRequest, object_id: str, *, button: StateButton) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(f"{self.opts.verbose_name.capitalize()} {object_id} does not exist.")
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        try:
            done = button.run(request, obj)
        except DomainError as exc:
            self.message_user(request, f"Not done ({button.label}): {exc.detail}", messages.ERROR)
        else:
            self.log_change(request, obj, done)  # the object's History page lists it
            self.message_user(request, done, messages.SUCCESS)
        return HttpResponseRedirect(
            reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[obj.pk])
        )
