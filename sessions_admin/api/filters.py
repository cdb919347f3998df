"""List filters for session files and API pairs: the strict base (a value of the wrong type is a 400)."""

from adbot_admin.api.filters import IntegerFilter, StrictFilterSet

from ..models import ApiPair, SessionFile


class SessionFileFilterSet(StrictFilterSet):
    """Filters by library, dc_id, api_id, and api_pair (the sessions whose api_id is that pair's)."""

    api_pair = IntegerFilter(method="filter_api_pair", label="The id of an API pair: its sessions.")

    class Meta:
        model = SessionFile
        fields = ["library", "dc_id", "api_id"]

    def filter_api_pair(self, queryset, _name, value):
        if value is None:
            return queryset
        return queryset.filter(api_id__in=ApiPair.objects.filter(pk=value).values("api_id"))


class ApiPairFilterSet(StrictFilterSet):
    """Filters by is_active (`true` or `false`)."""

    class Meta:
        model = ApiPair
        fields = ["is_active"]
