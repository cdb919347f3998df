from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class AdbotAdminConfig(AppConfig):
    name = "adbot_admin"
    verbose_name = "adbot admin"

    def ready(self):
        # Imported once the models are ready, as Django registers its own checks and signal handlers.
        from . import (
            checks,  # noqa: F401  the start-up checks
            logout,  # noqa: F401  a new password ends every login session
        )


class AdbotAdminSiteConfig(AdminConfig):
    """The Django admin, with its login rate limited like the API's."""

    default_site = "adbot_admin.admin_site.AdbotAdminSite"
