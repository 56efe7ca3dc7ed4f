"""Event patterns an endpoint subscribes to: an exact type, ``<family>.*`` or ``*``."""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from inventory.models import EventType

ANY = "*"
FAMILIES = tuple(dict.fromkeys(value.split(".", 1)[0] for value in EventType.values))
MAX_PATTERNS = 50


def _is_known(pattern: str) -> bool:
    if pattern == ANY or pattern in EventType.values:
        return True
    family, dot_star, rest = pattern.partition(".*")
    return bool(dot_star) and not rest and family in FAMILIES


def clean_events(value: object) -> list[str]:
    """The patterns, each once, in the given order; a ``ValidationError`` naming the first unknown one."""
    if not isinstance(value, list | tuple) or not value:
        raise ValidationError('Give a list of at least one event type or pattern, e.g. ["*"].', code="invalid")
    if len(value) > MAX_PATTERNS:
        raise ValidationError(f"At most {MAX_PATTERNS} event patterns.", code="invalid")
    for pattern in value:
        if not isinstance(pattern, str) or not _is_known(pattern):
            families = ", ".join(f"{family}.*" for family in FAMILIES)
            raise ValidationError(
                f"Unknown event type or pattern {pattern!r}: use an event type such as inventory.updated, "
                f"a family ({families}) or *.",
                code="invalid",
            )
    return list(dict.fromkeys(value))


def matcher(patterns: Iterable[str]):
    """A predicate ``event_type -> bool`` for an endpoint's patterns (compiled once per batch)."""
    patterns = set(patterns)
    if ANY in patterns:
        return lambda event_type: True
    families = {p[:-2] for p in patterns if p.endswith(".*")}
    return lambda event_type: event_type in patterns or event_type.split(".", 1)[0] in families
