"""Cheaper reads of the same responses: list endpoints are the hot path.

A ModelSerializer builds its fields anew for every request and walks every
row's fields through `get_attribute` and `to_representation`. FastReadMixin
builds, once per serializer class, a plan saying which fields are plain
attribute copies, which are text or datetimes with a known rendering, and
which need their field; rows then become dicts equal to DRF's own output.
"""

import logging
from datetime import timezone
from urllib.parse import urlencode

from django.core.cache import cache
from django.http import HttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework import fields
from rest_framework.renderers import JSONRenderer
from rest_framework.settings import api_settings

from .. import revisions

logger = logging.getLogger(__name__)
CACHED_PAGE_TTL = 60

# Representations that equal the model value itself (for values of the model's own type).
_IDENTITY = (fields.IntegerField, fields.BooleanField, fields.FloatField, fields.ReadOnlyField, fields.ChoiceField)


def _iso_datetime(value):
    # What DRF's DateTimeField renders in ISO-8601 mode with USE_TZ and a UTC current time zone.
    text = value.astimezone(timezone.utc).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _converter(field):
    """Return a plain function rendering the field's value, or None when only the field can."""
    if type(field) in _IDENTITY:
        return _identity
    if type(field) is fields.CharField:
        return str
    if (
        type(field) is fields.DateTimeField
        and getattr(field, "format", api_settings.DATETIME_FORMAT) in (api_settings.DATETIME_FORMAT, "iso-8601")
        and api_settings.DATETIME_FORMAT == "iso-8601"
        and getattr(field, "timezone", None) is None
    ):
        return _iso_datetime
    return None


def _identity(value):
    return value


class FastReadMixin:
    """Serializes rows with a plan built once per class; the output equals DRF's own.

    Only fields whose rendering needs nothing from the request or the
    serializer instance take the fast path; any other field makes the plan
    per-instance and goes through the field itself.
    """

    def _read_plan(self):
        cls = type(self)
        plan = cls.__dict__.get("_fast_plan")
        if plan is not None:
            return plan
        plan, shareable = [], True
        for field in self._readable_fields:
            convert = _converter(field) if len(field.source_attrs) == 1 else None
            if convert is not None:
                plan.append((field.field_name, field.source_attrs[0], convert))
            else:
                plan.append((field.field_name, None, field))
                shareable = False
        if shareable:
            cls._fast_plan = plan
        return plan

    def to_representation(self, instance):
        row = {}
        for name, attribute, convert in self._read_plan():
            if attribute is not None:
                value = getattr(instance, attribute)
                row[name] = None if value is None else convert(value)
            else:
                value = convert.get_attribute(instance)
                row[name] = None if value is None else convert.to_representation(value)
        return row


class FilterBackend(DjangoFilterBackend):
    """django-filter, skipped when a request asks for no filter (building its form costs ~1 ms)."""

    def filter_queryset(self, request, queryset, view):
        filterset_class = getattr(view, "filterset_class", None)
        names = list(filterset_class.base_filters) if filterset_class is not None else getattr(view, "filterset_fields", None)
        if names is not None and not any(name in request.query_params for name in names):
            return queryset
        return super().filter_queryset(request, queryset, view)


class CachedListMixin:
    """Serves list pages from the cache until a row of the view's model changes (revisions.py).

    Pages hold nothing that depends on who asks (only on the host asked), so
    every admin shares them.
    Only queries made of the known parameters are cached, which bounds the
    number of entries; anything else, and any cache failure, is answered fresh.
    """

    cached_list_parameters = ("page", "page_size")

    def cache_prefetch_keys(self, request):
        """Return the keys list() will read, for the authentication round trip to fetch with its own."""
        return self._list_cache_keys(request) or ()

    def list(self, request, *args, **kwargs):
        """Return the page from the cache when it was built under the model's current token."""
        keys = self._list_cache_keys(request)
        if keys is None:
            return super().list(request, *args, **kwargs)
        token_key, page_key = keys
        found = prefetched(request, keys)
        if found is None:
            # One round trip for the token and the page; the page remembers its token.
            found = _quiet(cache.get_many, keys) or {}
        token = found.get(token_key) or _quiet(revisions.token, self._list_model())
        cached = found.get(page_key)
        if token is not None and cached is not None and cached[0] == token:
            return HttpResponse(cached[1], content_type="application/json")
        response = super().list(request, *args, **kwargs)
        if token is None or response.status_code != 200:
            return response
        body = JSONRenderer().render(response.data)
        _quiet(cache.set, page_key, (token, body), CACHED_PAGE_TTL)
        return HttpResponse(body, content_type="application/json")

    def _list_cache_keys(self, request):
        """Return (change-token key, page key) for a cacheable list request, else None; once per request."""
        keys = getattr(request, "_list_cache_keys", False)
        if keys is False:
            keys = request._list_cache_keys = self._build_list_cache_keys(request)
        return keys

    def _list_model(self):
        # The class attribute when there is one: get_queryset() clones a queryset for nothing.
        return self.queryset.model if self.queryset is not None else self.get_queryset().model

    def _build_list_cache_keys(self, request):
        if getattr(self, "action", None) != "list":
            return None
        allowed = set(self.cached_list_parameters) | set(getattr(self, "filterset_fields", None) or ())
        if not set(request.query_params) <= allowed:
            return None
        model = self._list_model()
        query = urlencode(sorted(request.query_params.lists()), doseq=True)
        # Pages may carry absolute URLs built from the request's scheme and host.
        origin = f"{request.scheme}://{request.get_host()}"
        return revisions.key(model), f"page:{model._meta.label_lower}:{origin}:{query}"


def prefetch_keys(request):
    """Return the cache keys the request's view will read, for a round trip that must happen
    anyway (the authentication's) to fetch along with its own."""
    view = (getattr(request, "parser_context", None) or {}).get("view")
    return tuple(view.cache_prefetch_keys(request)) if hasattr(view, "cache_prefetch_keys") else ()


def keep_prefetched(request, keys, found):
    """Keep what was found of prefetch_keys() (None: the cache failed) for the view."""
    if keys:
        request._cache_prefetched = (tuple(keys), found)


def prefetched(request, keys):
    """Return what was prefetched of exactly these keys, or None when they were not fetched."""
    wanted, found = getattr(request, "_cache_prefetched", ((), None))
    return found if found is not None and tuple(keys) == wanted else None


def _quiet(operation, *args):
    try:
        return operation(*args)
    except Exception:  # a page can always be built fresh
        logger.warning("cache unavailable for cached list pages")
        return None
