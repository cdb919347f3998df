import logging

from django.apps import AppConfig


class SessionsAdminConfig(AppConfig):
    name = "sessions_admin"
    verbose_name = "Telegram sessions and API pairs"

    def ready(self):
        # Telethon (string sessions) imports rsa, which imports pyasn1.debug; on import that
        # module gives the "pyasn1" logger a stderr handler of its own with a plain formatter,
        # past the escaping of every configured handler (adbot_admin/logs.py). Import it now,
        # once, and take that handler off: its records reach the configured handlers instead.
        import pyasn1.debug  # noqa: F401

        logger = logging.getLogger("pyasn1")
        for handler in list(logger.handlers):
            logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
