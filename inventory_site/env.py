"""Typed readers for environment variables.

A bad value stops start-up with one line naming the variable, instead of a traceback
from deep inside Django or Celery.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def fail(name: str, message: str) -> None:
    """Stop the process with a one-line configuration error."""
    sys.stderr.write(f"Configuration error: {name} {message}\n")
    raise SystemExit(2)


def _read(name: str, default: T, parse: Callable[[str], T], expected: str) -> T:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return parse(raw.strip())
    except (TypeError, ValueError):
        fail(name, f"must be {expected}, got {raw!r}")
    raise AssertionError("unreachable")


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip() or default


def env_int(name: str, default: int, *, minimum: int | None = None, maximum: int | None = None) -> int:
    value = _read(name, default, int, "an integer")
    if minimum is not None and value < minimum:
        fail(name, f"must be at least {minimum}, got {value}")
    if maximum is not None and value > maximum:
        fail(name, f"must be at most {maximum}, got {value}")
    return value


def env_float(name: str, default: float, *, minimum: float, maximum: float) -> float:
    value = _read(name, default, float, "a number")
    if not minimum <= value <= maximum:
        fail(name, f"must be between {minimum} and {maximum}, got {value}")
    return value


def _parse_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError(raw)


def env_bool(name: str, default: bool) -> bool:
    return _read(name, default, _parse_bool, "true or false")


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return [part.strip() for part in raw.split(",") if part.strip()]
