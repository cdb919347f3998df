from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class AdbotAdminConfig(AppConfig):
    name = "adbot_admin"
    verbose_name = "adbot admin"

    def ready(self):
        from . import checks  # noqa: F401  registers the start-up checks
        from .api import schema  # noqa: F401  registers the OpenAPI auth schemes


class AdbotAdminSiteConfig(AdminConfig):
    """The Django admin, with its login rate limited like the API's."""

    default_site = "adbot_admin.admin_site.AdbotAdminSite"
