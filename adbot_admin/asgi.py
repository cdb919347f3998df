import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adbot_admin.settings")

application = get_asgi_application()

from adbot_admin.checks import refuse_unsafe_start  # noqa: E402

refuse_unsafe_start()
