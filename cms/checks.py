"""Start-up checks of the gallery's image settings (run with every management command)."""

from django.conf import settings
from django.core import checks


@checks.register()
def check_image_settings(app_configs=None, **kwargs):
    """Refuse image settings with which no upload could ever be stored."""
    errors = []
    if settings.IMAGE_MAX_SIDE < 1:
        errors.append(
            checks.Error(
                f"IMAGE_MAX_SIDE is {settings.IMAGE_MAX_SIDE}.",
                hint="Set IMAGE_MAX_SIDE to the longest side of a stored image in pixels, e.g. 2560 (default).",
                id="cms.E001",
            )
        )
    if settings.IMAGE_DECODE_SLOTS < 1:
        errors.append(
            checks.Error(
                f"IMAGE_DECODE_SLOTS is {settings.IMAGE_DECODE_SLOTS}: every upload would be refused as busy.",
                hint="Set IMAGE_DECODE_SLOTS to 1 (default) or more.",
                id="cms.E002",
            )
        )
    if settings.IMAGE_DECODE_WAIT < 0:
        errors.append(
            checks.Error(
                f"IMAGE_DECODE_WAIT is {settings.IMAGE_DECODE_WAIT:g}.",
                hint="Set IMAGE_DECODE_WAIT to the seconds an upload may wait for a decode slot, e.g. 10 (default).",
                id="cms.E003",
            )
        )
    return errors
