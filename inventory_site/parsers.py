"""The API's JSON parser: a hostile or broken body is a 400 with the error contract, never a 500.

Strings are checked here, once for every field of every endpoint, rather than in serializers:
PostgreSQL cannot store NUL in text or jsonb, and a lone surrogate cannot even be encoded as
UTF-8, so the first one to reach a query, a log line or an error message that echoes the input
(DRF's ChoiceField does) turns into a 500. Free-form JSON (``product_attributes``) has no
serializer field to check its keys, and no legitimate client sends either character.
"""

from __future__ import annotations

import math
import re
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError

# Deeper bodies are refused: no endpoint takes more than a few levels, and Python's recursive
# json encoder/decoder (parsing, rendering, the idempotency fingerprint) fail near 1,000.
MAX_DEPTH = 64
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # the decoder pairs valid surrogates: any left are lone
_MAX_KEY_IN_PATH = 40

# A path into the body as a linked list (parent, key): cheap to extend for every node.
_Path = tuple["_Path", str | int] | None


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser that also refuses too-deep bodies, NUL, lone surrogates and non-finite numbers."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: dict | None = None) -> Any:
        """The parsed body; ``ParseError`` (malformed) or ``ValidationError`` (unstorable values) otherwise."""
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.") from None
        check_json(data)
        return data


def check_json(data: Any) -> None:
    """Raise if ``data`` nests deeper than ``MAX_DEPTH`` or holds a value no column can store."""
    stack: list[tuple[Any, _Path, int]] = [(data, None, 1)]
    while stack:  # iterative: the body may be as deep as the decoder allowed
        value, path, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_DEPTH:
                raise ParseError(f"JSON parse error - nested deeper than {MAX_DEPTH} levels.")
            children = value.items() if isinstance(value, dict) else enumerate(value)
            for key, child in children:
                if isinstance(key, str) and (problem := _string_problem(key)):
                    raise _invalid(path, f"Keys must not contain {problem}.")
                stack.append((child, (path, key), depth + 1))
        elif isinstance(value, str):
            if problem := _string_problem(value):
                raise _invalid(path, f"Must not contain {problem}.")
        elif isinstance(value, float) and not math.isfinite(value):
            # 1e400 parses as infinity: jsonb and numeric columns refuse it.
            raise _invalid(path, "Number out of range.")


def _string_problem(text: str) -> str | None:
    if "\x00" in text:
        return "the null character U+0000"
    if match := _LONE_SURROGATE.search(text):
        return f"the unpaired surrogate U+{ord(match.group()):04X}"
    return None


def _invalid(path: _Path, message: str) -> ValidationError:
    """A 400 ``invalid`` whose ``errors`` key is the dotted path of the offending value."""
    parts: list[str | int] = []
    while path is not None:
        path, key = path
        parts.append(key)
    text = ""
    for key in reversed(parts):
        if isinstance(key, int):
            text += f"[{key}]"
        else:
            name = key if len(key) <= _MAX_KEY_IN_PATH else key[:_MAX_KEY_IN_PATH] + "…"
            text += f".{name}" if text else name
    return ValidationError({text or "non_field_errors": [message]})
