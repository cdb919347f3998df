from django.apps import AppConfig


class CmsConfig(AppConfig):
    name = "cms"
    verbose_name = "CMS"

    def ready(self):
        from adbot_admin import revisions

        from .models import GalleryImage

        revisions.track(GalleryImage)
