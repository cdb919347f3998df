"""Content negotiation with a shortcut for what nearly every client asks."""

from rest_framework.negotiation import DefaultContentNegotiation

# Accept headers that the first renderer always satisfies with its own media type.
_ANY = frozenset({None, "*/*", "application/json", "application/json, */*", "application/json, text/plain, */*"})


class ContentNegotiation(DefaultContentNegotiation):
    """DRF's negotiation, answering the usual Accept headers (none, `*/*`, JSON) without
    parsing them: the result is the one DRF reaches, the first (JSON) renderer."""

    def select_renderer(self, request, renderers, format_suffix=None):
        accept = request.META.get("HTTP_ACCEPT")
        if (
            accept in _ANY
            and format_suffix is None
            and self.settings.URL_FORMAT_OVERRIDE not in request.query_params
            and renderers[0].media_type == "application/json"
        ):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
