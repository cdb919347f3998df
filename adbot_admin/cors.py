"""CORS for the API, working only when origins are configured."""

from corsheaders.conf import conf
from corsheaders.middleware import CorsMiddleware


class ConfiguredCorsMiddleware(CorsMiddleware):
    """django-cors-headers once CORS_ALLOWED_ORIGINS (or its regexes) lists an origin; otherwise nothing.

    With no origin allowed no answer differs by Origin, so it needs neither
    CORS headers nor `Vary: origin`; the settings are read per request, so a
    configuration change (or a test's override) applies at once.
    """

    def __call__(self, request):
        if not (conf.CORS_ALLOWED_ORIGINS or conf.CORS_ALLOWED_ORIGIN_REGEXES or conf.CORS_ALLOW_ALL_ORIGINS):
            return self.get_response(request)
        return super().__call__(request)
