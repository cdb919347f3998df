"""The gallery API's own refusals, in the project's error format."""

from adbot_admin.errors import ServiceUnavailable


class ImageBusy(ServiceUnavailable):
    """Every image decode slot of this process stayed busy; nothing was stored (Retry-After says when to retry)."""

    default_detail = "The server is busy with other images; try again shortly. Nothing was stored."
    default_code = "image_busy"
