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


# A rate is "<count>/<period>": the period is s, sec, second, m, min, minute, h, hour, d or day.
_RATE_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60}
_RATE_PERIODS |= {"h": 3600, "hour": 3600, "d": 86400, "day": 86400}
RATE_OFF = "off"


def parse_rate(raw: str) -> tuple[int, int] | None:
    """``"6000/min"`` -> ``(6000, 60)``: requests allowed per that many seconds; ``"off"`` -> ``None``."""
    text = raw.strip().lower()
    if text == RATE_OFF:
        return None
    count, _, period = text.partition("/")
    seconds = _RATE_PERIODS.get(period.strip())
    if not seconds or not count.strip().isdigit() or int(count) < 1:
        raise ValueError(raw)
    return int(count), seconds


def env_rate(name: str, default: str) -> str:
    """A request rate such as ``60/min`` (or ``off``), checked now so a typo stops start-up."""
    value = env_str(name, default)
    try:
        parse_rate(value)
    except ValueError:
        fail(name, f"must be a rate such as 60/min (count per s, min, hour or day) or off, got {value!r}")
    return value
