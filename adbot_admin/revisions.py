"""Change tokens per model, so that list pages can be cached until a row changes.

Every save or delete of a tracked model (signals) replaces its token at once and
again once the transaction commits; a page cached under an old token is never
served again. Bulk `QuerySet.update()` and `bulk_create()` send no signals:
pages then expire after CACHED_PAGE_TTL.
"""

import logging
import uuid

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

logger = logging.getLogger(__name__)


def key(model):
    """Return the cache key holding `model`'s change token."""
    return f"revision:{model._meta.label_lower}"


def token(model):
    """Return the current change token of `model`; raises when the cache is down."""
    token_key = key(model)
    current = cache.get(token_key)
    if current is None:
        cache.add(token_key, uuid.uuid4().hex, None)
        current = cache.get(token_key)
    return current


def _renew(model):
    try:
        cache.set(key(model), uuid.uuid4().hex, None)
    except Exception:
        logger.warning("cache unavailable while renewing the %s change token", model._meta.label_lower)


def bump(model):
    """Replace the token now (this transaction's own reads) and after commit (everyone's)."""
    _renew(model)
    transaction.on_commit(lambda: _renew(model))


def _on_change(sender, **kwargs):
    bump(sender)


def track(*models):
    """Bump a model's token on every save and delete of its rows."""
    for model in models:
        uid = f"revision-{model._meta.label_lower}"
        post_save.connect(_on_change, sender=model, dispatch_uid=f"{uid}-save")
        post_delete.connect(_on_change, sender=model, dispatch_uid=f"{uid}-delete")
