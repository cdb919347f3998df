"""List filters for session files and API pairs: the strict base (a value of the wrong type is a 400)."""

import django_filters

from adbot_admin.api.filters import IntegerFilter, StrictBooleanFilter, StrictFilterSet

from ..models import ApiPair, SessionFile


class SessionFileFilterSet(StrictFilterSet):
    """Filters by library, dc_id, api_id, status, phone, username, has_proxy and api_pair."""

    api_pair = IntegerFilter(method="filter_api_pair", label="The id of an API pair: its sessions.")
    phone = django_filters.CharFilter(method="filter_phone", label="The phone number (digits; a leading + is ignored).")
    username = django_filters.CharFilter(
        method="filter_username", label="The username, any letter case (a leading @ is ignored)."
    )
    has_proxy = StrictBooleanFilter(field_name="proxy", lookup_expr="isnull", exclude=True, label="Has a proxy.")

    class Meta:
        model = SessionFile
        fields = ["library", "dc_id", "api_id", "status"]

    def filter_phone(self, queryset, _name, value):
        return queryset.filter(phone=value.strip().removeprefix("+")) if value else queryset

    def filter_username(self, queryset, _name, value):
        return queryset.filter(username__iexact=value.strip().removeprefix("@")) if value else queryset

    def filter_api_pair(self, queryset, _name, value):
        if value is None:
            return queryset
        return queryset.filter(api_id__in=ApiPair.objects.filter(pk=value).values("api_id"))


class ApiPairFilterSet(StrictFilterSet):
    """Filters by is_active (`true` or `false`)."""

    class Meta:
        model = ApiPair
        fields = ["is_active"]
