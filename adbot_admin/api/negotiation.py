"""Content negotiation: DRF's, answered at once for the clients that take the API's JSON anyway."""

from rest_framework.negotiation import DefaultContentNegotiation

# Accept headers whose answer DRF's negotiation would find JSON for, with `application/json` as the media type.
TAKES_JSON = frozenset((None, "*/*", "application/*", "application/json"))


class JsonFirstNegotiation(DefaultContentNegotiation):
    """Picks the first renderer, when it writes JSON, for a request that asks for nothing else; otherwise DRF's."""

    def select_renderer(self, request, renderers, format_suffix=None):
        if (
            format_suffix is None
            and renderers[0].media_type == "application/json"
            and request.META.get("HTTP_ACCEPT") in TAKES_JSON
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
        ):
            return renderers[0], "application/json"
        return super().select_renderer(request, renderers, format_suffix)
