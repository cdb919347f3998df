from django.urls import re_path
from rest_framework.routers import SimpleRouter


def route(path, view, name):
    """Return a URL pattern for `path` that matches with and without a trailing slash."""
    return re_path(rf"^{path.strip('/')}/?$", view, name=name)


class OptionalSlashRouter(SimpleRouter):
    """A router whose routes match with and without a trailing slash."""

    def __init__(self):
        super().__init__()
        # SimpleRouter turns any true `trailing_slash` argument into "/", so set the pattern itself.
        self.trailing_slash = "/?"
