"""Start-up checks of the gallery's image settings (run with every management command)."""

from django.conf import settings
from django.core import checks

# Each image setting, the least value with which an upload can be stored, what a lower one means, and the fix.
MINIMUMS = (
    ("IMAGE_MAX_SIDE", 1, "", "the longest side of a stored image in pixels, e.g. 2560 (default)", "cms.E001"),
    ("IMAGE_DECODE_SLOTS", 1, ": every upload would be refused as busy", "1 (default) or more", "cms.E002"),
    ("IMAGE_DECODE_WAIT", 0, "", "the seconds an upload may wait for a decode slot, e.g. 10 (default)", "cms.E003"),
)


@checks.register()
def check_image_settings(app_configs=None, **kwargs):
    """Refuse image settings with which no upload could ever be stored."""
    return [
        checks.Error(f"{name} is {getattr(settings, name):g}{meaning}.", hint=f"Set {name} to {fix}.", id=error_id)
        for name, least, meaning, fix, error_id in MINIMUMS
        if getattr(settings, name) < least
    ]
