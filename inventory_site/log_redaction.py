"""Keep credentials out of log lines: ``token=`` and ``ticket=`` values become ``[redacted]``.

WebSocket clients put their token (``/ws/inventory/?token=...``) or ticket in the URL, and uvicorn's
access and error logs, Django's request loggers and our own lines print paths with query strings.
``RedactSecretsFilter`` rewrites a record's message, arguments and traceback text before any handler
formats it. ``install()`` attaches it by logger name (uvicorn configures its own handlers, which a
different way of serving may replace); ``settings.LOGGING`` attaches it to the root handler too,
which every other logger of ours propagates to.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from urllib.parse import unquote_plus

REDACTED = "[redacted]"
SECRET_PARAMETERS = frozenset({"token", "ticket"})

# The loggers that print request paths with their query strings.
LOGGERS = (
    "uvicorn",
    "uvicorn.error",  # WebSocket handshakes: '... "WebSocket /ws/inventory/?token=..." [accepted]'
    "uvicorn.access",
    "django.request",
    "django.server",
    "django.channels.server",
    "daphne.server",
    "daphne.http_protocol",
    "daphne.ws_protocol",
)

_DELIMITERS = r"\s?&;#\"'<>()\[\]{},/\\"
# A parameter name starts at a delimiter (so the scan stays linear) and ends at "="; it is compared after
# percent-decoding, as parse_qs reads it. A secret's value runs to the next parameter or the end of the URL.
_NAME = re.compile(rf"(?<![^{_DELIMITERS}])([^{_DELIMITERS}=]+)=")
_VALUE_END = re.compile(r"[\s&#\"'\\]")


def redact(text: str) -> str:
    """``text`` with the value of every ``token=``/``ticket=`` parameter replaced by ``[redacted]``."""
    if "=" not in text:
        return text
    parts: list[str] = []
    done = scan = 0
    while match := _NAME.search(text, scan):
        scan = match.end()
        if unquote_plus(match[1]).lower() not in SECRET_PARAMETERS:
            continue  # go on inside its value too: it may be a URL with a token of its own
        end = _VALUE_END.search(text, scan)
        stop = end.start() if end else len(text)
        if text[scan:stop] not in ("", REDACTED):
            parts += [text[done:scan], REDACTED]
            done = stop
        scan = stop
    return "".join([*parts, text[done:]]) if parts else text


def _redact_value(value: object) -> object:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, int | float | bool) or value is None:
        return value
    # Bytes (a raw query string), URLs, scopes...: replaced by their redacted text only when they hold a secret.
    text = str(value)
    redacted = redact(text)
    return value if redacted == text else redacted


class RedactSecretsFilter(logging.Filter):
    """Redacts the record in place; never drops it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = _redact_value(record.msg)
        if isinstance(record.args, Mapping):
            record.args = {key: _redact_value(value) for key, value in record.args.items()}
        elif isinstance(record.args, tuple):
            record.args = tuple(_redact_value(value) for value in record.args)
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when it is set: format the traceback once, redacted.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


_FILTER = RedactSecretsFilter()


def install(names: tuple[str, ...] = LOGGERS) -> None:
    """Attach the filter to the named loggers (once each; safe to call again)."""
    for name in names:
        logger = logging.getLogger(name)
        if not any(isinstance(existing, RedactSecretsFilter) for existing in logger.filters):
            logger.addFilter(_FILTER)
