from django.apps import AppConfig


class SessionsAdminConfig(AppConfig):
    name = "sessions_admin"
    verbose_name = "Telegram sessions and API pairs"

    def ready(self):
        from adbot_admin import revisions

        from .models import ApiPair, SessionFile

        revisions.track(SessionFile, ApiPair)
