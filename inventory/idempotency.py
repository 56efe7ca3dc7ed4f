"""``Idempotency-Key`` for POSTs that change stock: a retry returns the first response, not a second hold.

The key row is inserted in the same transaction as the work. A concurrent retry blocks on the
unique index until the first attempt commits, then replays its response.
"""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.encoders import JSONEncoder

from inventory.exceptions import DomainError, InvalidInput
from inventory.models import IdempotencyKey

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255


class IdempotencyKeyReused(DomainError):
    code = "idempotency_key_reused"
    default_detail = "This Idempotency-Key was already used with a different request."


def _fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, cls=JSONEncoder)
    raw = f"{request.method} {request.get_full_path()} {body}"
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(record: IdempotencyKey, fingerprint: str) -> Response:
    if record.fingerprint != fingerprint:
        raise IdempotencyKeyReused()
    response = Response(record.response_body, status=record.status_code)
    response["Idempotent-Replayed"] = "true"
    return response


def purge_expired_keys() -> int:
    cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted


class _Replay(Exception):
    """The key was stored first by another attempt: undo this one and answer as that one did."""


def _store(user, key: str, fingerprint: str, response: Response, cutoff) -> bool:
    """Store the key with its response in the caller's transaction, in one statement; False when a
    live key exists already (an expired one is replaced). A concurrent attempt with the same key
    waits here on the unique index until the first one commits or rolls back."""
    table = connection.ops.quote_name(IdempotencyKey._meta.db_table)
    body = json.dumps(response.data, cls=JSONEncoder)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, key, fingerprint, status_code, response_body, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (user_id, key) DO UPDATE SET "
            "fingerprint = excluded.fingerprint, status_code = excluded.status_code, "
            f"response_body = excluded.response_body, created_at = excluded.created_at WHERE {table}.created_at < %s "
            "RETURNING id",
            [user.pk, key, fingerprint, response.status_code, body, timezone.now(), cutoff],
        )
        return cursor.fetchone() is not None


def idempotent(handler):
    """Decorate an APIView handler (``post``) to honour the ``Idempotency-Key`` header.

    The work and the stored response commit together; storing costs one statement (no read first):
    a retry of a finished request redoes the work, finds the key at the insert, and rolls back.
    """

    @functools.wraps(handler)
    def wrapper(view, request: Request, *args, **kwargs) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            return handler(view, request, *args, **kwargs)
        key = key.strip()
        if not key or len(key) > MAX_KEY_LENGTH or not key.isprintable():
            raise InvalidInput(f"{HEADER} must be 1 to {MAX_KEY_LENGTH} printable characters.", field=HEADER)
        fingerprint = _fingerprint(request)
        cutoff = timezone.now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
        try:
            with transaction.atomic():
                try:
                    response = handler(view, request, *args, **kwargs)
                except DomainError as exc:
                    if not exc.keeps_changes:
                        raise  # roll back: the refusal changed nothing
                    # The service committed work before refusing (an overdue reservation expired on
                    # the spot): keep it, with the refusal as the stored response.
                    response = view.handle_exception(exc)
                if response.status_code >= 500:
                    return response
                if not _store(request.user, key, fingerprint, response, cutoff):
                    raise _Replay()
            return response
        except _Replay:
            pass
        except DomainError as exc:
            # A refusal is a response too: the retry gets the same answer.
            response = view.handle_exception(exc)
            with transaction.atomic():
                if _store(request.user, key, fingerprint, response, cutoff):
                    return response
        return _replay(IdempotencyKey.objects.get(user=request.user, key=key), fingerprint)

    return wrapper
