"""What happens after a stock change commits: cache refresh, live broadcast, metrics.

Services call ``stock_changed`` inside their transaction; the work runs only if it commits,
so a rolled-back change leaves no trace anywhere.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from functools import partial

from django.db import transaction

logger = logging.getLogger(__name__)


def stock_changed(item_ids: Iterable[int]) -> None:
    """Register the after-commit side effects for the given items."""
    ids = tuple(sorted(set(item_ids)))
    if ids:
        # partial, not a lambda: binds the ids now (ruff B023).
        transaction.on_commit(partial(publish_stock_changes, ids))


def publish_stock_changes(item_ids: tuple[int, ...]) -> None:
    """Run after commit; never raises, a failed side effect must not fail the write that committed."""
    for hook in _HOOKS:
        try:
            hook(item_ids)
        except Exception:
            logger.exception("after-commit hook %s failed for items %s", hook.__name__, item_ids)


_HOOKS: list = []
