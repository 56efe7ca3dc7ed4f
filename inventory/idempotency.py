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
from django.db import IntegrityError, transaction
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


def idempotent(handler):
    """Decorate an APIView handler (``post``) to honour the ``Idempotency-Key`` header."""

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
        with transaction.atomic():
            IdempotencyKey.objects.filter(user=request.user, key=key, created_at__lt=cutoff).delete()
            try:
                with transaction.atomic():
                    record = IdempotencyKey.objects.create(user=request.user, key=key, fingerprint=fingerprint)
            except IntegrityError:
                record = None
            if record is not None:
                try:
                    with transaction.atomic():
                        try:
                            response = handler(view, request, *args, **kwargs)
                        except DomainError as exc:
                            if not exc.keeps_changes:
                                raise  # roll the savepoint back: the refusal changed nothing
                            # The service committed work before refusing (an overdue reservation
                            # expired on the spot): leave the savepoint normally so it stays.
                            response = view.handle_exception(exc)
                except DomainError as exc:
                    # A refusal is a response too: the retry gets the same answer.
                    response = view.handle_exception(exc)
                if response.status_code < 500:
                    record.status_code = response.status_code
                    record.response_body = json.loads(json.dumps(response.data, cls=JSONEncoder))
                    record.save(update_fields=["status_code", "response_body"])
                return response
        return _replay(IdempotencyKey.objects.get(user=request.user, key=key), fingerprint)

    return wrapper
