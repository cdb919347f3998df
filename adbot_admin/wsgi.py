import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adbot_admin.settings")

application = get_wsgi_application()

from adbot_admin.checks import refuse_unsafe_start  # noqa: E402

refuse_unsafe_start()
